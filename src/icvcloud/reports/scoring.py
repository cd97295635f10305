"""An enterprise's compliance score (0–100) and the ranking. Pure.

Each metric becomes a component in 0…1 — rates as they are; overspeed and fatigue
as the share of online vehicles *without* such an alarm (1 − per-100 ÷ 100) — and
the score is 100 × the weighted mean of the components that exist: a metric with
no denominator (no online vehicle, no alarm due) is left out and the other
weights count for more. The default weights are icvcloud's, not a province's
table; provinces publish their own, so they are configuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

from .metrics import Rates


@dataclass(frozen=True, slots=True)
class Weights:
    network_rate: float = 10.0
    online_rate: float = 20.0
    track_completeness: float = 15.0
    data_qualification: float = 15.0
    alarm_handling_rate: float = 20.0
    overspeed: float = 10.0
    fatigue: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            w = getattr(self, f.name)
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"weight {f.name} must be a finite number ≥ 0, not {w!r}")


def components(r: Rates) -> dict[str, float | None]:
    """Each weighted metric as a share in 0…1 (None: not measurable)."""

    def without(per_100: float | None) -> float | None:
        return None if per_100 is None else 1.0 - min(1.0, per_100 / 100.0)

    return {"network_rate": r.network_rate, "online_rate": r.online_rate,
            "track_completeness": r.track_completeness, "data_qualification": r.data_qualification,
            "alarm_handling_rate": r.alarm_handling_rate, "overspeed": without(r.overspeed_per_100),
            "fatigue": without(r.fatigue_per_100)}


def score(r: Rates, w: Weights) -> float | None:
    """100 × Σ weight·component ÷ Σ weight over the components that exist; None when
    none does (an enterprise without vehicles)."""
    num = den = 0.0
    for name, c in components(r).items():
        weight = getattr(w, name)
        if c is not None and weight > 0:
            num += weight * c
            den += weight
    return 100.0 * num / den if den else None


def rank(scores: Sequence[float | None], decimals: int = 2) -> list[int | None]:
    """Competition ranking (1, 2, 2, 4), higher first, of the scores as shown
    (rounded to ``decimals``): equal shown scores share a rank. None scores are
    not ranked."""
    shown = [None if s is None else round(s, decimals) for s in scores]
    ordered = sorted((s for s in shown if s is not None), reverse=True)
    first: dict[float, int] = {}
    for i, s in enumerate(ordered, 1):
        first.setdefault(s, i)
    return [None if s is None else first[s] for s in shown]
