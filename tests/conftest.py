"""Defaults for every test module (loaded before them)."""

from hypothesis import HealthCheck, settings

# Hypothesis's per-example deadline and its "generation too slow" check are wall-clock
# bounds: on a loaded two-core CI machine they fail tests whose behaviour is right.
# Tests assert behaviour, never speed (benchmarks live in bench/).
settings.register_profile("icvcloud", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("icvcloud")
