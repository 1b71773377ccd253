"""The rule catalog (fusion/rules/catalog): a rule registered in one place is configured from the rules file,
evaluated by the engine, kept across a reload, and carried through snapshot / restore."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fusion.core.arrays import TrackView
from fusion.rules.behaviours import track_candidates
from fusion.rules.catalog import CATALOG
from fusion.rules.catalog.base import Rule, TickInputs, fmt
from fusion.rules.config import DEFAULT_RULES_PATH, RULE_NAMES, RulesFileError, load_rules, rules_schema
from fusion.rules.engine import RuleEngine
from fusion.rules.lifecycle import Candidates
from fusion.rules.lineage import Carried
from fusion.rules.params import KNOT_MPS, NonNeg, Pos, RuleParams, Severity, Weight
from fusion.rules.scene import Scene
from fusion.rules.synthetic import FRAME, KN, empty, view, zone_set

T0 = 1_700_013_600.0


class StoppedParams(RuleParams):
    """stopped (a rule of this test only): a surface track slower than speed_kn. Every field has a default, so the
    built-in defaults file needs no section for it."""

    enabled: bool = True
    severity: Severity = "low"
    weight: Weight = 0.3
    min_on_s: NonNeg = 0.0
    min_off_s: NonNeg = 0.0
    speed_kn: Pos = 1.0


@dataclass
class StoppedMemory:
    """When each stopped surface track was first seen stopped (sorted track id)."""

    cols: dict[str, np.ndarray] = field(default_factory=lambda: {"track_id": np.zeros(0, np.int64), "since_t": np.zeros(0)})


class Stopped(Rule[StoppedParams]):
    """A surface track below speed_kn, with how long it has been (state across ticks)."""

    name = "stopped"
    Params = StoppedParams

    def __init__(self) -> None:
        super().__init__()
        self.memory: StoppedMemory = StoppedMemory()

    def evaluate(self, s: Scene, tick: TickInputs) -> Candidates:
        slow = s.eligible & ~s.is_air & (s.speed_mps < self.params.speed_kn * KNOT_MPS)
        rows = np.flatnonzero(slow)
        since = Carried(self.memory.cols, s.track_id[rows]).prev("since_t", s.t)
        self.memory.cols = {"track_id": s.track_id[rows], "since_t": since}
        stopped_s = np.full(len(s), np.nan)
        stopped_s[rows] = s.t - since
        return track_candidates(self.params, slow, slow, np.ones(len(s)), {"stopped_s": stopped_s})

    def reason(self, ev: Mapping[str, float], zone: str | None) -> str:
        return f"stopped for {fmt(ev['stopped_s'], ' s')}"


SCHEMA = rules_schema((*CATALOG, Stopped))


def rules_file(tmp_path: Path, stopped: str) -> Path:
    """A rules file with every built-in rule off and the given [rules.stopped] lines."""
    off = "".join(f"[rules.{n}]\nenabled = false\n" for n in RULE_NAMES)
    p = tmp_path / "rules.toml"
    p.write_text(f'[engine]\ncoast = "none"\n{off}[rules.stopped]\n{stopped}')
    return p


def boats(t: float, speeds_kn: list[float]) -> dict[str, TrackView]:
    n = len(speeds_kn)
    return {"surface": view("surface", t, [15.0 + 0.1 * i for i in range(n)], [-75.0] * n, [(v * KN, 0.0) for v in speeds_kn]),
            "air": empty("air", t)}


def test_a_registered_rule_is_configured_from_toml_evaluated_and_snapshotted(tmp_path: Path) -> None:
    cfg = load_rules(rules_file(tmp_path, "speed_kn = 2.0\n"), SCHEMA)
    assert cfg.rules.params("stopped") == StoppedParams(speed_kn=2.0)  # the file's value over the rule's own defaults
    assert cfg.enabled() == ["stopped"]
    zones = zone_set()
    eng = RuleEngine(zones, cfg, FRAME)
    out = eng.evaluate(T0, boats(T0, [1.5, 3.0]))
    assert [(a.rule, a.state, a.track_id, a.severity, a.reason) for a in out] == [("stopped", "raised", 1, "low", "stopped for 0 s")]
    eng.evaluate(T0 + 30, boats(T0 + 30, [1.5, 3.0]))
    snap = eng.snapshot()
    assert snap["rule.stopped.track_id"].tolist() == [1] and snap["rule.stopped.since_t"].tolist() == [T0]
    back = RuleEngine.restore(zones, cfg, FRAME, snap)
    for t in (T0 + 60, T0 + 90):  # track 2 stops at T0 + 60
        assert back.evaluate(t, boats(t, [1.5, 1.0])) == eng.evaluate(t, boats(t, [1.5, 1.0]))
    assert back.catalog["stopped"].snapshot()["since_t"].tolist() == [T0, T0 + 60]  # track 1's time survived the restore


def test_reload_keeps_a_rules_state_and_takes_its_new_parameters(tmp_path: Path) -> None:
    eng = RuleEngine(zone_set(), load_rules(rules_file(tmp_path, ""), SCHEMA), FRAME)
    assert [a.track_id for a in eng.evaluate(T0, boats(T0, [0.5, 1.5]))] == [1]
    eng.reload(load_rules(rules_file(tmp_path, "speed_kn = 2.0\n"), SCHEMA))
    out = eng.evaluate(T0 + 30, boats(T0 + 30, [0.5, 1.5]))
    assert [(a.track_id, a.state) for a in out] == [(2, "raised")]
    assert eng.catalog["stopped"].snapshot()["since_t"].tolist() == [T0, T0 + 30]


def test_a_registered_rules_bad_field_is_named_and_unregistered_rules_are_unknown(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match=r"rule stopped: field speed_mps: .*known fields: .*speed_kn"):
        load_rules(rules_file(tmp_path, "speed_mps = 1.0\n"), SCHEMA)
    with pytest.raises(RulesFileError, match=r"rule stopped: field \(rule name\): unknown rule"):
        load_rules(rules_file(tmp_path, ""))  # the built-in catalog has no such rule


def test_builtin_catalog_and_defaults_file_name_the_same_rules_in_order() -> None:
    sections = list(tomllib.loads(DEFAULT_RULES_PATH.read_text())["rules"])
    assert sections == list(RULE_NAMES) == [c.name for c in CATALOG]


def test_rule_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        rules_schema((*CATALOG, CATALOG[0]))
