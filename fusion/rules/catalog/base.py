"""A rule as one component: its parameters, its vectorised evaluation, its reason text, the zones it
queries and its state across ticks (snapshot / restore / merges).

The engine (``fusion.rules.engine``) iterates the rules of the config's catalog (``fusion.rules.catalog``): per
tick it calls ``evaluate`` on the enabled ones and keeps their alerts' lifecycle; it warms the zone queries a rule
declares (``queries``), names the zone holding a track with the rule's ``prefer``red kinds first, and stores the
rule's ``memory`` columns in its snapshot under ``state_key``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np

from fusion.core.arrays import BoolArray, IntArray
from fusion.outages import Outages
from fusion.rules.behaviours import FirstFix
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Lineage
from fusion.rules.params import EngineSettings, ExcludingParams, RuleParams
from fusion.rules.reporting import ReportingArrays
from fusion.rules.scene import Scene, ZoneGeometry

P = TypeVar("P", bound=RuleParams)
X = TypeVar("X", bound=ExcludingParams)


@dataclass
class TickInputs:
    """What a rule sees of one tick besides the Scene: the engine settings and the state several rules share."""

    engine: EngineSettings
    first_fix: FirstFix  # first fix and time in AIS coverage per surface track (dark_vessel, noncoop_transit)
    lineage: Lineage  # object lineage across track fragments (identity history)
    outages: Outages  # silences of the link and the feeds this tick
    reporting: ReportingArrays  # AIS vessels' last report type, SOG and observed reception


class TrackMemory(Protocol):
    """Per-track state of a rule: columns of equal length keyed by a sorted ``track_id`` column."""

    cols: dict[str, np.ndarray]


def fmt(v: float, unit: str = "", digits: int = 0) -> str:
    """A number for reason text ("unknown" when NaN or infinite)."""
    return "unknown" if not math.isfinite(v) else f"{v:.{digits}f}{unit}"


class Rule(abc.ABC, Generic[P]):
    """One rule. Subclasses set ``name`` (the rule's name in the rules file, alerts and topics), ``Params`` (its
    section of the rules file) and, when they keep per-track state, ``memory``."""

    name: ClassVar[str]
    Params: ClassVar[type[RuleParams]]
    memory: TrackMemory | None = None

    def __init__(self) -> None:
        self.params: P
        self.geometry: ZoneGeometry

    @property
    def state_key(self) -> str:
        """Prefix of the rule's memory columns in the engine snapshot."""
        return f"rule.{self.name}"

    def configure(self, params: P, geometry: ZoneGeometry) -> None:
        """Take (new) parameters; the rule's state is kept (``RuleEngine.reload``)."""
        self.params = params
        self.geometry = geometry

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """Zone queries the rule makes per tick, to index at configuration: (needed, margin m, (Z,) zones)."""
        return []

    def prefer(self) -> BoolArray | None:
        """(Z,) zones to name first in the rule's alerts when the rule is not about a zone (None: file order)."""
        return None

    def lookahead_s(self) -> float:
        """How far ahead the rule asks for arrival times (``Scene.arrival``), s."""
        return 0.0

    @abc.abstractmethod
    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        """This tick's subjects whose hold (or raise) condition is true, vectorised over the scene's tracks."""

    @abc.abstractmethod
    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        """Readable one-line reason of a raised or updated alert from its evidence."""

    def cleared_reason(self, ev: Mapping[str, float], zone: str | None, because: str) -> str | None:
        """Reason of a cleared alert when the rule words it itself (None: the engine's "ended" text)."""
        return None

    def snapshot(self) -> dict[str, np.ndarray]:
        """The rule's memory columns (copies), for the engine snapshot."""
        return {} if self.memory is None else {k: v.copy() for k, v in self.memory.cols.items()}

    def restore(self, part: Mapping[str, Any]) -> None:
        """Memory columns from ``snapshot`` output; a snapshot without them (the rule or its memory is newer)
        leaves the memory empty, so it starts anew."""
        if self.memory is not None and "track_id" in part:
            self.memory.cols = {k: np.asarray(part[k]).copy() for k in self.memory.cols}

    def on_merge(self, merged: IntArray) -> None:
        """(K, 2) (absorbed id, surviving id): an absorbed track's memory is dropped (the survivor keeps its own)."""
        if self.memory is not None:
            kept = ~np.isin(self.memory.cols["track_id"], merged[:, 0])
            self.memory.cols = {k: v[kept] for k, v in self.memory.cols.items()}


class ExcludingRule(Rule[X]):
    """A rule that does not apply near zones of its exclude_kinds: it queries their exclude_margin_m."""

    def queries(self) -> list[tuple[bool, float, BoolArray]]:
        """The exclusion margin around zones of exclude_kinds."""
        r = self.params
        return [(r.enabled, r.exclude_margin_m, self.geometry.select(r.exclude_kinds))]
