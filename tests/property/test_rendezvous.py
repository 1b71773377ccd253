"""Invariants of the rendezvous rule (hypothesis): symmetric in the pair, and silent for tracks farther apart than
the distance (or the resolution, for merged plots) plus the largest gate, whatever their covariances."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.core.arrays import TrackView, fixed_covariance
from fusion.rules.catalog.rendezvous import RendezvousParams
from fusion.rules.engine import AlertEvent, RuleEngine
from fusion.rules.synthetic import empty, engine, rules, view

T0 = 1_700_013_600.0
DT = 10.0
SETTINGS = settings(max_examples=10, deadline=None)
M_PER_DEG_LAT = 110_650.0
CFG = rules({"rules": {"rendezvous": {"min_on_s": 300.0, "merged_min_on_s": 300.0}}})
R = CFG.rules.params("rendezvous")
assert isinstance(R, RendezvousParams)
TRACK_ID = st.integers(0, 2**31 - 1)  # pair subjects key the other track's id in 31 bits (fusion.rules.lifecycle)


def pair(t: float, north_m: tuple[float, float], vel_n: tuple[float, float], sigma_m: tuple[float, float],
         ids: tuple[int, int] = (3, 7), alive: tuple[bool, bool] = (True, True)) -> dict[str, TrackView]:
    """Two dark surface tracks on the meridian -75 (metres north of 15 N), each with its own position sigma."""
    keep = [i for i in range(2) if alive[i]]
    v = view("surface", t, [15.0 + north_m[i] / M_PER_DEG_LAT for i in keep], -75.0, [(0.0, vel_n[i]) for i in keep],
             ids=[ids[i] for i in keep])
    P = np.stack([np.diag([sigma_m[i] ** 2, sigma_m[i] ** 2, 1.0, 1.0]) for i in keep]).reshape(-1, 4, 4)
    return {"surface": replace(v, covariance=fixed_covariance(P)), "air": empty("air", t)}


def drive(eng: RuleEngine, frames: list[dict[str, TrackView]]) -> list[AlertEvent]:
    out: list[AlertEvent] = []
    for k, views in enumerate(frames):
        out.extend(e for e in eng.evaluate(T0 + k * DT, views) if e.rule == "rendezvous")
    return out


def closing(ids: tuple[int, int], sep: float, speed: float, sig: tuple[float, float], lost_at: int, n: int
            ) -> list[dict[str, TrackView]]:
    """``n`` ticks: track ``ids[0]`` holds at 0 m with sigma sig[0]; track ``ids[1]`` starts ``sep`` m north with
    sigma sig[1], closes on it linearly and is lost at tick ``lost_at`` (a merge when it was seen resolved apart);
    northward speeds ``speed`` and ``-speed`` (m/s)."""
    return [pair(T0 + k * DT, (0.0, sep * max(0.0, 1.0 - k / lost_at)), (speed, -speed), sig, ids=ids,
                 alive=(True, k < lost_at)) for k in range(n)]


def summary(events: list[AlertEvent], name: dict[int, str]) -> list[tuple[Any, ...]]:
    """Each event's time, state, the roles (``name``) of its track and related tracks, and its id-free evidence."""
    return [(e.t, e.state, sorted(name[i] for i in (e.track_id, *e.related_track_ids)),
             *(e.evidence.get(k) for k in ("distance_m", "merged", "resplit", "merged_s", "condition_s"))) for e in events]


@SETTINGS
@given(sep=st.floats(0.0, 1500.0), speed=st.floats(0.0, 1.5), sig=st.tuples(st.floats(1.0, 600.0), st.floats(1.0, 600.0)),
       lost_at=st.integers(5, 30), n=st.integers(35, 60), ids=st.lists(TRACK_ID, min_size=2, max_size=2, unique=True))
def test_swapping_the_two_tracks_ids_gives_the_same_alerts(sep: float, speed: float, sig: tuple[float, float],
                                                           lost_at: int, n: int, ids: list[int]) -> None:
    """The held track and the closing one (lost at ``lost_at``: a merge when it came from beyond the resolution)
    exchange ids: the alerts are the same up to which id holds which state (the owner of a pair of dark tracks is the
    lower id, so a merge's survivor owns the pair in one run and not in the other)."""
    a, b = ids
    one = drive(engine(cfg=CFG), closing((a, b), sep, speed, sig, lost_at, n))
    two = drive(engine(cfg=CFG), closing((b, a), sep, speed, sig, lost_at, n))
    assert summary(one, {a: "held", b: "closing"}) == summary(two, {b: "held", a: "closing"})


@SETTINGS
@given(extra=st.floats(1.0, 5000.0), speed=st.floats(0.0, 1.0), sig=st.tuples(st.floats(1.0, 5000.0), st.floats(1.0, 5000.0)),
       n=st.integers(35, 60))
def test_no_alert_farther_than_distance_plus_the_largest_gate(extra: float, speed: float, sig: tuple[float, float],
                                                              n: int) -> None:
    """Two slow tracks farther apart than clear_distance_m + max_gate_m (however uncertain) never raise, nor does
    one lost there (beyond resolution_m + max_gate_m of the survivor)."""
    far = max(R.clear_distance_m, R.resolution_m) + R.max_gate_m + extra
    held = [pair(T0 + k * DT, (0.0, far), (speed, speed), sig) for k in range(n)]
    assert drive(engine(cfg=CFG), held) == []
    lost = [pair(T0 + k * DT, (0.0, far), (speed, -speed), sig, alive=(True, k < n // 2)) for k in range(n)]
    assert drive(engine(cfg=CFG), lost) == []
