"""noncoop_transit outside terrestrial AIS coverage waits for satellite AIS (issue 14 cause (b)): an AIS ship beyond the
shore receiver's range is heard only in satellite passes, delivered minutes late; the rule calls a track
non-cooperative once a delivered pass since it was first seen did not hear an identity where it could have been."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from fusion.rules.engine import AlertEvent
from fusion.rules.reporting import AisReporting, ReportingArrays
from fusion.rules.synthetic import KN, empty, engine, rules, view
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
M_PER_DEG = 111_195.0
RX = {"lat": 15.0, "lon": -75.0, "radius_m": 20_000.0}
COVERAGE = {"everywhere": False, "zones": [], "kinds": [], "circles": [RX], "satellite_dark_s": 0.0}
LAT0 = 15.5  # 55 km north of the receiver: outside its coverage
SPEED = 8.0 * KN  # a transit speed (net 6-12 kn)
PASS = (T0 + 1000.0, T0 + 1600.0)  # one satellite pass, 600 s
LATENCY_S = 300.0  # every satellite report delivered this late
SHIP = 366000001
OTHER = 366000002  # a vessel far from the track, heard in the pass: the satellite listened


def ship_lat(t: float) -> float:
    """The vessel's latitude at ``t``: north at SPEED from LAT0 at T0."""
    return LAT0 + SPEED * (t - T0) / M_PER_DEG


def satellite_reports(ship_heard: Sequence[tuple[float, float]], pass_: tuple[float, float] = PASS) -> list[AisPosition]:
    """The pass's (``pass_``: start, end) reports (every 10 s) of OTHER, 60 km east of the track, and of SHIP in the
    (start, end) windows."""
    out = [AisPosition(t=t, source="sat", mmsi=OTHER, lat=LAT0, lon=-74.44, sog_mps=10.0 * KN, msg_type=1)
           for t in np.arange(*pass_, 10.0).tolist()]
    for lo, hi in ship_heard:
        out += [AisPosition(t=t, source="sat", mmsi=SHIP, lat=ship_lat(t), lon=-75.0, sog_mps=SPEED, msg_type=1)
                for t in np.arange(lo, hi, 10.0).tolist()]
    return sorted(out, key=lambda r: r.t)


def raised(reports: list[AisPosition], fields: dict[str, object] | None = None, ticks: int = 400,
           dt: float = 10.0) -> list[float]:
    """Times (s after T0) noncoop_transit raised on the dark track of the vessel (first seen at T0), with the satellite
    ``reports`` each reaching the reporting table LATENCY_S after it was sent."""
    cfg = {"await_satellite": True, **(fields or {})}
    eng = engine(cfg=rules({"engine": {"ais_coverage": COVERAGE}, "rules": {"noncoop_transit": cfg}}))
    table = AisReporting()
    pending = list(reports)
    out: list[float] = []
    for k in range(ticks):
        t = T0 + k * dt
        arrived = [r for r in pending if r.t + LATENCY_S <= t]
        pending = pending[len(arrived):]
        table.add(arrived)
        rep: ReportingArrays = table.arrays()
        views = {"surface": view("surface", t, [ship_lat(t)], [-75.0], [(0.0, SPEED)], first_t=T0),
                 "air": empty("air", t)}
        out.extend(e.t - T0 for e in eng.evaluate(t, views, reporting=rep) if _raised(e))
    return out


def _raised(e: AlertEvent) -> bool:
    return e.rule == "noncoop_transit" and e.state == "raised"


def test_a_dark_track_is_raised_once_a_delivered_pass_did_not_hear_it() -> None:
    """The pass starts 1,000 s after the track is first seen; the other vessel's last report in it (1,590 s: the table
    keeps each vessel's last), the newest heard outside coverage, counts once satellite_latency_s (1,200 s) old (nothing
    heard out there since: the pass is over and delivered): from 2,790 s, then min_on_s (150 s). Not while the pass is
    under way or arriving."""
    times = raised(satellite_reports([]))
    assert times and 2790.0 + 150.0 <= times[0] <= 2790.0 + 150.0 + 20.0


def test_an_ais_ship_heard_by_the_satellite_is_never_raised() -> None:
    """The same track, its vessel heard in the pass (a few reports: p_detect 0.5 of a 10 min pass)."""
    assert raised(satellite_reports([(PASS[0] + 200.0, PASS[0] + 230.0)])) == []


def test_a_vessel_that_went_silent_before_the_pass_is_raised() -> None:
    """Heard by an earlier pass before the track was first seen (where its track leads back to), silent in the pass
    since: it switched its transmitter off."""
    earlier = [(T0 - 4000.0, T0 - 3900.0)]
    times = raised(satellite_reports(earlier))
    assert times and times[0] >= 2790.0


EARLY_PASS = (T0 - 1500.0, T0 - 900.0)  # a pass that ended 900 s before the track was first seen


def test_a_pass_before_the_track_was_first_seen_counts_where_its_vessel_could_have_been() -> None:
    """kingston-1001: the rendezvous logistics vessel's dark tracks are re-born after the pass that missed it (its
    AIS off), and its AIS is back on before the next pass is delivered. The vessel existed before its track: during
    the early pass it was within reach (reach_speed_factor x speed x time) of the track's first fix; nobody heard
    there, so the pass counts once delivered (its last report, 910 s before first seen, 1,200 s old: 290 s), then
    min_on_s (150 s). The same vessel heard in that pass where it was then is never raised."""
    times = raised(satellite_reports([], EARLY_PASS), ticks=150)
    assert times and 290.0 + 150.0 <= times[0] <= 290.0 + 150.0 + 20.0
    heard_then = satellite_reports([(EARLY_PASS[0] + 100.0, EARLY_PASS[0] + 130.0)], EARLY_PASS)
    assert raised(heard_then, ticks=400) == []


def test_an_identity_heard_far_from_the_track_does_not_excuse_it() -> None:
    """SHIP's identity heard in the pass 30 km west of where the track was: another vessel, not this one."""
    far = [AisPosition(t=t, source="sat", mmsi=SHIP, lat=ship_lat(t), lon=-75.28, sog_mps=SPEED, msg_type=1)
           for t in np.arange(PASS[0], PASS[0] + 60.0, 10.0).tolist()]
    times = raised(sorted(satellite_reports([]) + far, key=lambda r: r.t))
    assert times and times[0] == 1590.0 + 1200.0 + 150.0  # the pass delivered (OTHER's last report); then min_on_s


def test_no_satellite_pass_no_alert_unless_the_wait_is_off() -> None:
    """Without any satellite report the silence outside coverage is no evidence (await_satellite); with the wait off
    (the shipped default) the rule is as it was (net window + min_on_s)."""
    assert raised([]) == []
    times = raised([], {"await_satellite": False}, ticks=60)
    assert times and times[0] <= 120.0 + 150.0 + 20.0


@pytest.mark.parametrize("field", ["satellite_pass_s", "reach_speed_factor"])
def test_bad_satellite_settings_are_refused(field: str) -> None:
    with pytest.raises(Exception, match=field):
        rules({"engine": {"ais_coverage": COVERAGE}, "rules": {"noncoop_transit": {field: 0.0}}})
