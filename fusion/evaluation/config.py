"""Scoring parameters: the GOSPA order, alpha and cut-off per domain, and the track statuses scored."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """Scoring parameters (docs/EVALUATION.md).

    p:          GOSPA/OSPA order (p >= 1); 2 makes the localisation part a sum of squared errors.
    alpha:      GOSPA alpha; only 2 is accepted, the value for which GOSPA splits into
                localisation, missed and false parts.
    cutoff_m:   GOSPA/OSPA cut-off c per domain, true metres; also the matching radius.
    statuses:   track statuses scored (tentative tracks are not shown to operators).
    score_threshold: the operating point of the alert score for the "at_operating_point" table; None:
                the shipped calibration's (``fusion.rules.calibration``).
    """

    p: float = 2.0
    alpha: float = 2.0
    cutoff_m: Mapping[str, float] = field(default_factory=lambda: {"surface": 1000.0, "air": 3000.0})
    statuses: tuple[str, ...] = ("confirmed", "coasting")
    score_threshold: float | None = None

    def __post_init__(self) -> None:
        if not (self.p >= 1.0 and math.isfinite(self.p)):
            raise ValueError(f"MetricsConfig.p = {self.p!r}: must be finite and >= 1")
        if self.alpha != 2.0:
            raise ValueError(f"MetricsConfig.alpha = {self.alpha!r}: only 2 is supported (the decomposable GOSPA)")
        if self.score_threshold is not None and not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"MetricsConfig.score_threshold = {self.score_threshold!r}: must be in [0, 1]")
        for domain, c in self.cutoff_m.items():
            if not (c > 0.0 and math.isfinite(c)):
                raise ValueError(f"MetricsConfig.cutoff_m[{domain!r}] = {c!r}: must be finite and > 0")

    def cutoff(self, domain: str, source: str) -> float:
        """The cut-off for ``domain``; a domain with none configured is an input error."""
        if domain not in self.cutoff_m:
            raise ValueError(f"{source}: domain = {domain!r}: no GOSPA cut-off configured (known: {sorted(self.cutoff_m)})")
        return float(self.cutoff_m[domain])

