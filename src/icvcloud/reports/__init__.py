"""Compliance reports (合规考核报表): the supervision metrics regulators score
enterprises on, per enterprise, vehicle and day, with a weighted score and ranking,
exported as JSON, CSV, Excel and a printable HTML/PDF report (docs/reports.md).

``metrics`` and ``scoring`` are pure; ``build`` gathers the store's facts and folds
them; the ``*_export`` modules and ``charts`` render."""
