"""landing_approach on aircraft: raised only on an approach profile to the airstrip (issue 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.core.arrays import TrackView
from fusion.rules.engine import AlertEvent
from fusion.rules.synthetic import KN, box, empty, engine, rules, view, zone_set

T0 = 1_700_013_600.0
LAT, STRIP_LON = 15.0, -74.9  # the strip's west edge; the aircraft fly east at LAT towards it
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT))
STRIP = zone_set(box("strip", "airstrip", STRIP_LON, LAT - 0.01, STRIP_LON + 0.01, LAT + 0.01))


def fly(dist_m: float, speed_mps: float, alt_m: float, vrate_mps: float, off_deg: float = 0.0,
        ticks: int = 16, dt: float = 10.0) -> list[AlertEvent]:
    """An unidentified air track starting ``dist_m`` west of the strip, flying ``off_deg`` left of east at
    ``speed_mps``, altitude ``alt_m`` changing at ``vrate_mps`` (NaN: unknown), stepped every ``dt`` s; its
    landing_approach events (the other rules off)."""
    heading = np.radians(90.0 - off_deg)  # compass: 90 deg is east, less is left of it
    ve, vn = speed_mps * np.sin(heading), speed_mps * np.cos(heading)
    eng = engine(STRIP, rules({"rules": {"landing_approach": {}}}))
    out: list[AlertEvent] = []
    for k in range(ticks):
        t = T0 + k * dt
        e, n = -dist_m + ve * k * dt, vn * k * dt
        v = view("air", t, [LAT + n / 111_195.0], [STRIP_LON + e / M_PER_DEG_LON], [(ve, vn)], ids=[1_000_000_001],
                 alt_m=alt_m + vrate_mps * k * dt, vrate_mps=vrate_mps)
        views: dict[str, TrackView] = {"surface": empty("surface", t), "air": v}
        out.extend(x for x in eng.evaluate(t, views) if x.rule == "landing_approach")
    return out


def test_low_aircraft_towards_the_strip_is_raised_after_its_time_on_final() -> None:
    # the corpus suspect: 150 kn, 250 m, sinking 0.35 m/s, 40 km out (~520 s)
    ev = fly(40_000.0, 150 * KN, 250.0, -0.35)
    assert [e.state for e in ev] == ["raised"] and ev[0].zone == "strip"
    assert ev[0].t - T0 == pytest.approx(60.0)  # air_min_on_s of evidence time on the approach
    assert ev[0].evidence["time_to_arrival_s"] == pytest.approx(40_000.0 / (150 * KN) - 60.0, rel=0.05)
    assert ev[0].evidence["alt_m"] == pytest.approx(250.0 - 0.35 * 60.0)
    assert "altitude 229 m" in ev[0].reason
    # the same approach seen for 50 s only (a track lost, an aircraft passing low) is not raised
    assert fly(40_000.0, 150 * KN, 250.0, -0.35, ticks=6) == []


def test_unknown_altitude_is_judged_on_heading_and_speed() -> None:
    assert [e.state for e in fly(20_000.0, 120 * KN, math.nan, math.nan)] == ["raised"]


@pytest.mark.parametrize(("what", "dist_m", "speed_mps", "alt_m", "vrate_mps", "off_deg"), [
    ("cruising level past it (the tune side's false alerts)", 30_000.0, 120 * KN, 1900.0, 0.0, 0.0),
    ("descending towards it from cruise, above circuit height", 20_000.0, 120 * KN, 1000.0, -3.0, 0.0),
    ("3 km above it 10 km out, descending 15 m/s", 10_000.0, 120 * KN, 3000.0, -15.0, 0.0),
    ("heading 30 deg off it, beyond a wind correction angle", 20_000.0, 120 * KN, 250.0, -0.3, 30.0),
    ("faster than an approach speed", 40_000.0, 215 * KN, 250.0, -0.3, 0.0),
])
def test_aircraft_not_on_approach_is_not_raised(what: str, dist_m: float, speed_mps: float, alt_m: float,
                                                vrate_mps: float, off_deg: float) -> None:
    # each of these raised before issue 14: time to arrival under 15 min within 45 deg, and altitude / 15 m/s under it
    assert fly(dist_m, speed_mps, alt_m, vrate_mps, off_deg) == [], what


def test_raised_approach_clears_on_a_go_around() -> None:
    eng = engine(STRIP, rules({"rules": {"landing_approach": {"air_min_on_s": 0.0, "min_off_s": 0.0}}}))
    states: list[str] = []
    for k in range(12):
        t = T0 + k * 10.0
        climb = 0.0 if k < 6 else 8.0  # a go-around: climbing at 8 m/s, beyond 1.5 x circuit height in 30 s
        alt = 250.0 + climb * (k - 6) * 10.0 if k >= 6 else 250.0
        e = -40_000.0 + 150 * KN * k * 10.0
        v = view("air", t, [LAT], [STRIP_LON + e / M_PER_DEG_LON], [(150 * KN, 0.0)], ids=[1_000_000_001], alt_m=alt,
                 vrate_mps=climb)
        states += [x.state for x in eng.evaluate(t, {"surface": empty("surface", t), "air": v}) if x.rule == "landing_approach"]
    assert states == ["raised", "cleared"]
