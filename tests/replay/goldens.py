"""Shared helpers of the replay regression suite: recording a scenario, the compact tracks
summary, and comparing a replay with its expected files (readable diffs)."""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from fusion.recording import RecordingWriter

DATA = Path(__file__).parent / "data"
SCENARIOS = Path(__file__).resolve().parents[2] / "sim_feeds" / "scenarios"

POSITION_TOL_M = 1.0  # track position: great-circle-ish distance between expected and replayed
VELOCITY_TOL_MPS = 0.01  # each of vel_e_mps, vel_n_mps
SUMMARY_EVERY_S = 60.0  # the tracks summary keeps output ticks on whole minutes, plus each track's last row
EXACT_KEYS = ("t", "track_id", "domain", "status", "mmsi", "icao24", "sources")


@dataclass(frozen=True)
class Case:
    """One golden: a shipped scenario, recorded for its first ``minutes``."""

    name: str
    scenario: str
    minutes: float

    @property
    def scenario_path(self) -> Path:
        return SCENARIOS / self.scenario

    @property
    def dir(self) -> Path:
        return DATA / self.name

    @property
    def recording(self) -> Path:
        return self.dir / "recording.jsonl.gz"

    @property
    def expected_alerts(self) -> Path:
        return self.dir / "expected_alerts.jsonl"

    @property
    def expected_tracks(self) -> Path:
        return self.dir / "expected_tracks_summary.jsonl"


CASES = (
    Case("minimal", "minimal.toml", 20.0),
    Case("gofast_night_cartagena", "gofast_night_cartagena.toml", 20.0),
    Case("semisub_tumaco", "semisub_tumaco.toml", 20.0),
    Case("ais_dark_spoof_san_andres", "ais_dark_spoof_san_andres.toml", 40.0),
    Case("rendezvous_merged_guajira", "rendezvous_merged_guajira.toml", 60.0),
)


def record_scenario(scenario_path: Path, out: Path, minutes: float | None) -> int:
    """Record a scenario's feed (recv_t = message time) for its first ``minutes``; returns the message count."""
    from sim_feeds.play import iter_feed
    from sim_feeds.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    end = math.inf if minutes is None else scenario.t0 + minutes * 60.0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    n = 0
    with RecordingWriter(out, flush_interval_s=1e9, fsync=False, compresslevel=9) as writer:
        for m in iter_feed(scenario):
            if m.t >= end:
                break
            writer.append(m.topic, m.payload, m.qos, False, m.t)
            n += 1
    return n


def tracks_summary(tracks_jsonl: Path) -> list[dict[str, object]]:
    """Rows at output ticks on whole multiples of SUMMARY_EVERY_S, plus each track's last row;
    only the compared fields (cov_en_m2 and alt_m dropped), in file order."""
    rows = [json.loads(line) for line in tracks_jsonl.read_text().splitlines()]
    last = {r["track_id"]: i for i, r in enumerate(rows)}
    keep = []
    for i, r in enumerate(rows):
        if r["t"] % SUMMARY_EVERY_S == 0.0 or last[r["track_id"]] == i:
            keep.append({k: r[k] for k in (*EXACT_KEYS, "lat", "lon", "vel_e_mps", "vel_n_mps")})
    return keep


def dump_rows(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows)


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: exact enough for metre-level differences."""
    r = 6_371_008.8
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2.0))
    y = math.radians(lat2 - lat1)
    return r * math.hypot(x, y)


def _vel_diff(a: object, b: object) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    return abs(float(a) - float(b))  # type: ignore[arg-type]


def compare_tracks(expected: list[dict[str, object]], actual: list[dict[str, object]]) -> list[str]:
    """Problems, each a readable line: rows missing or extra by (t, track_id), exact fields that
    differ, positions further apart than POSITION_TOL_M, velocities than VELOCITY_TOL_MPS."""
    exp = {(r["t"], r["track_id"]): r for r in expected}
    act = {(r["t"], r["track_id"]): r for r in actual}
    problems = [f"missing track row t={k[0]} track_id={k[1]}" for k in sorted(exp.keys() - act.keys())]
    problems += [f"unexpected track row t={k[0]} track_id={k[1]}" for k in sorted(act.keys() - exp.keys())]
    for key in sorted(exp.keys() & act.keys()):
        e, a = exp[key], act[key]
        where = f"t={key[0]} track_id={key[1]}"
        for k in EXACT_KEYS:
            if e[k] != a[k]:
                problems.append(f"{where}: {k} expected {e[k]!r}, got {a[k]!r}")
        d = _distance_m(e["lat"], e["lon"], a["lat"], a["lon"])  # type: ignore[arg-type]
        if not d <= POSITION_TOL_M:
            problems.append(f"{where}: position {d:.3f} m from expected (tolerance {POSITION_TOL_M} m)")
        for k in ("vel_e_mps", "vel_n_mps"):
            dv = _vel_diff(e[k], a[k])
            if not dv <= VELOCITY_TOL_MPS:
                problems.append(f"{where}: {k} expected {e[k]!r}, got {a[k]!r} (tolerance {VELOCITY_TOL_MPS} m/s)")
    return problems


def text_diff(expected: str, actual: str, name: str, limit: int = 60) -> str:
    """A unified diff, cut to ``limit`` lines."""
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), f"expected/{name}", f"replayed/{name}",
                                      lineterm="", n=1))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)
