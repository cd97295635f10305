"""One module per rule: a state dataclass and a ``step(state, step)`` that folds one
report into it, touching the episodes it opens, changes or closes."""
