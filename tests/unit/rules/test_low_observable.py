"""dark_vessel on a low-observable hull (issue 14, late semi-submersible alerts): a track measured below
low_observable_rcs_dbsm is raised on its size once seen going somewhere over low_observable_watch_s, in or out of AIS
coverage, without waiting dark_s in coverage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import TrackView
from fusion.rules.engine import AlertEvent
from fusion.rules.synthetic import empty, engine, rules, view

T0 = 1_700_013_600.0
M_PER_DEG_LAT = 111_320.0
# a shore receiver at 15 N 75 W heard to 60 km: 15.1 N is inside its coverage, 16.0 N outside
CIRCLE = {"everywhere": False, "zones": [], "kinds": [], "circles": [{"lat": 15.0, "lon": -75.0, "radius_m": 60_000.0}],
          "satellite_dark_s": 0.0}
SEMI_SUB_DBSM = -5.2  # the corpus's semi-submersible, 0.3 m^2
YACHT_DBSM = 7.2  # a 12 m pleasure craft (sim_feeds.scenario.hull_rcs_m2): a small craft, never raised


def steaming(lat: float, rcs_dbsm: float, looks: int, first_t: float = T0,
             east_mps: Callable[[int], float] = lambda k: 4.0) -> Callable[[int, float], TrackView]:
    """A track first measured at ``first_t``, moving east at ``east_mps(k)`` m/s (10 s ticks), its RCS estimate from
    ``looks`` radar looks."""
    lon = [-75.3]
    scale = M_PER_DEG_LAT * np.cos(np.radians(lat))

    def make(k: int, t: float) -> TrackView:
        if k:
            lon.append(lon[-1] + 10.0 * east_mps(k) / scale)
        return view("surface", t, [lat], [lon[k]], [(east_mps(k), 0.0)], first_t=first_t, rcs_dbsm=rcs_dbsm, rcs_looks=looks)
    return make


def events(make: Callable[[int, float], TrackView], ticks: int = 80, **fields: float) -> list[AlertEvent]:
    """dark_vessel events over ``ticks`` 10 s ticks (dark_s 600 s, ``fields`` overriding)."""
    cfg = rules({"engine": {"ais_coverage": CIRCLE}, "rules": {"dark_vessel": {"dark_s": 600.0, **fields}}})
    eng = engine(cfg=cfg)
    out: list[AlertEvent] = []
    for k in range(ticks):
        t = T0 + 10.0 * k
        out.extend(e for e in eng.evaluate(t, {"surface": make(k, t), "air": empty("air", t)}) if e.rule == "dark_vessel")
    return out


def raised(make: Callable[[int, float], TrackView], ticks: int = 80, **fields: float) -> list[tuple[str, float]]:
    """(state, s after T0) of the dark_vessel events."""
    return [(e.state, e.t - T0) for e in events(make, ticks, **fields)]


@pytest.mark.parametrize("lat", [15.1, 16.0])  # inside AIS coverage, and outside it
def test_a_low_observable_hull_is_raised_once_watched_not_after_dark_s(lat: float) -> None:
    """Born at T0, settled 60 s later (settle_s: the first fix of its net speed), net speed measured over 120 s at
    T0 + 180 s: raised there, with strength 1, inside coverage (before: after dark_s, 600 s) and outside it (before:
    never)."""
    ev = events(steaming(lat, SEMI_SUB_DBSM, 50))
    assert [(e.state, e.t - T0) for e in ev] == [("raised", 180.0)]
    assert ev[0].evidence["strength"] == pytest.approx(1.0)
    assert "(a low-observable hull)" in ev[0].reason


def test_the_watch_time_is_the_parameter() -> None:
    assert raised(steaming(16.0, SEMI_SUB_DBSM, 50), low_observable_watch_s=300.0) == [("raised", 360.0)]


@pytest.mark.parametrize(("rcs_dbsm", "looks"), [
    (YACHT_DBSM, 50),  # a small craft below the carriage size: not the hull path, and silent outside coverage as before
    (SEMI_SUB_DBSM, 9),  # too few looks for a size
    (np.nan, 0),  # no estimate
])
def test_outside_coverage_only_a_measured_low_observable_hull_is_raised(rcs_dbsm: float, looks: int) -> None:
    assert raised(steaming(16.0, rcs_dbsm, looks)) == []


def test_a_low_observable_track_not_going_anywhere_is_not_raised_on_its_size() -> None:
    """Back and forth at 2.5 m/s (4.9 kn, reversing every 20 s: within 50 m of where it was first seen): its net speed
    stays below min_net_speed_kn (4 kn), so its size alone raises nothing."""
    shuttle = lambda k: 2.5 if (k // 2) % 2 == 0 else -2.5  # noqa: E731 - a one-line velocity profile
    assert raised(steaming(16.0, SEMI_SUB_DBSM, 50, east_mps=shuttle)) == []


def test_a_coasting_low_observable_track_is_not_raised() -> None:
    """Radar last updated it 200 s ago (beyond radar_fresh_s 120 s): its position is a guess, no alert."""
    base = steaming(16.0, SEMI_SUB_DBSM, 50)

    def stale(k: int, t: float) -> TrackView:
        v = base(k, t)
        v.last_noncoop_t[:] = t - 200.0
        return v
    assert raised(stale) == []
