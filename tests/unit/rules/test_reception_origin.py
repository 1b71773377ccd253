"""Reception by range (the fading band at the edge of terrestrial AIS range) in ais_gap's missed-report likelihood,
and dark_vessel / noncoop_transit not for a vessel first seen leaving a port (issue 14 item 2)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fusion.core.arrays import TrackView
from fusion.rules.config import ais_coverage
from fusion.rules.engine import AlertEvent
from fusion.rules.params import Circle
from fusion.rules.reporting import AisReporting, ReportingArrays, haversine_m, modelled_reception
from fusion.rules.synthetic import box, empty, engine, rules, view, zone_set
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
MMSI = 367000002
RX_LAT, RX_LON = 15.0, -75.0
M_PER_DEG_LAT = 111_320.0
# a shore receiver heard by class A out to 74 km and class B out to 37 km, reception fading over the last 20 km
FADING = {"lat": RX_LAT, "lon": RX_LON, "radius_m": 74_000.0, "radius_class_b_m": 37_000.0, "fade_m": 20_000.0}


def coverage(*circles: dict[str, float]) -> dict[str, object]:
    return {"everywhere": False, "zones": [], "kinds": [], "circles": list(circles), "satellite_dark_s": 0.0}


def north_of_rx(m: float) -> float:
    """Latitude (deg) ``m`` metres north of the receiver."""
    return RX_LAT + m / M_PER_DEG_LAT


def test_modelled_reception_fades_linearly_to_each_class_range() -> None:
    c = Circle(lat=RX_LAT, lon=RX_LON, radius_m=74_000.0, radius_class_b_m=37_000.0, fade_m=20_000.0)
    r = np.array([0.0, 17_000.0, 27_000.0, 37_000.0, 54_000.0, 64_000.0, 80_000.0])
    lat, lon = north_of_rx(r), np.full(len(r), RX_LON)
    assert haversine_m(lat, lon, RX_LAT, RX_LON) == pytest.approx(r, abs=200.0)
    a = modelled_reception(lat, lon, np.zeros(len(r), bool), [c])
    b = modelled_reception(lat, lon, np.ones(len(r), bool), [c])
    assert a == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0], abs=0.02)
    assert b == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0], abs=0.02)
    # two receivers hear independently; a plain circle (fade 0) hears everything inside it; none stated: no bound
    two = modelled_reception(lat[5:6], lon[5:6], np.zeros(1, bool), [c, c])
    assert two == pytest.approx([0.75], abs=0.02)
    plain = Circle(lat=RX_LAT, lon=RX_LON, radius_m=50_000.0)
    assert modelled_reception(lat, lon, np.zeros(len(r), bool), [plain]).tolist() == [1, 1, 1, 1, 0, 0, 0]
    assert modelled_reception(lat, lon, np.ones(len(r), bool), []).tolist() == [1.0] * len(r)


def test_circle_fade_longer_than_a_range_is_a_named_error() -> None:
    with pytest.raises(ValueError, match="fade_m"):
        Circle(lat=RX_LAT, lon=RX_LON, radius_m=74_000.0, radius_class_b_m=10_000.0, fade_m=20_000.0)


def test_ais_coverage_keeps_each_receivers_reception_by_range() -> None:
    cov = ais_coverage([(RX_LAT, RX_LON, 74_000.0, 37_000.0, 20_000.0), (16.0, -76.0, 40_000.0)], [], 30.0)
    assert [(c.radius_m, c.radius_class_b_m, c.fade_m) for c in cov.circles] == [(74_000.0, 37_000.0, 20_000.0),
                                                                                (40_000.0, None, 0.0)]


def class_b_heard(ranges_m: list[float], times: list[float]) -> ReportingArrays:
    """The reporting table after class B reports (30 s interval underway) of MMSI heard at ``times`` at ``ranges_m``
    north of the receiver, and a class A neighbour near the receiver heard every 10 s (the receiver hears someone)."""
    table = AisReporting()
    reports = [AisPosition(t=t, source="rx", mmsi=MMSI, lat=north_of_rx(m), lon=RX_LON, sog_mps=4.0, msg_type=18)
               for m, t in zip(ranges_m, times, strict=True)]
    reports += [AisPosition(t=t, source="rx", mmsi=1, lat=RX_LAT, lon=RX_LON + 0.05, sog_mps=5.0, msg_type=1)
                for t in np.arange(T0 - 1800.0, T0 + 7200.0, 10.0).tolist()]
    table.add(sorted(reports, key=lambda r: r.t))
    return table.arrays()


def gap_events(reporting: ReportingArrays, range_at: list[float], dt: float = 10.0) -> list[AlertEvent]:
    """ais_gap events of a class B vessel silent since T0 at ``range_at[k]`` metres north of the receiver at tick k."""
    eng = engine(cfg=rules({"engine": {"ais_coverage": coverage(FADING)}, "rules": {"ais_gap": {}}}))
    out: list[AlertEvent] = []
    for k, m in enumerate(range_at):
        t = T0 + k * dt
        views = {"surface": view("surface", t, [north_of_rx(m)], [RX_LON], [(0.0, 4.0)], mmsi=MMSI, last_ais_t=T0),
                 "air": empty("air", t)}
        out.extend(e for e in eng.evaluate(t, views, reporting=reporting) if e.rule == "ais_gap")
    return out


def test_silence_well_inside_class_b_range_raises() -> None:
    """A class B vessel at 10 km (full reception), heard at every report, then silent: a gap within minutes."""
    rep = class_b_heard([10_000.0] * 40, [T0 - 1170.0 + 30.0 * i for i in range(40)])
    ev = gap_events(rep, [10_000.0] * 120)
    assert ev and ev[0].state == "raised" and ev[0].t - T0 <= 300.0


def fleet_steaming_out(circle: dict[str, float], n: int = 40, seed: int = 7) -> int:
    """ais_gap alerts raised on ``n`` class B vessels steaming out at 4 m/s from 12 km to 48 km north of the receiver,
    each transmitting every 30 s and heard with the probability of ``FADING`` at its range (seeded draws), radar holding
    them all along; the rules are told ``circle``."""
    rng = np.random.default_rng(seed)
    eng = engine(cfg=rules({"engine": {"ais_coverage": coverage(circle)}, "rules": {"ais_gap": {}}}))
    table = AisReporting()
    mmsi = np.arange(MMSI, MMSI + n)
    lon = RX_LON + np.linspace(-0.3, 0.3, n)  # side by side, 1.6 km apart
    last = np.full(n, np.nan)
    raised = 0
    for k in range(int(36_000.0 / 4.0 / 30.0)):
        t = T0 + 30.0 * k
        lat = north_of_rx(12_000.0 + 4.0 * 30.0 * k) + np.zeros(n)
        p = modelled_reception(lat, lon, np.ones(n, bool), [Circle(**FADING)])
        heard = rng.random(n) < p
        table.add([AisPosition(t=t, source="rx", mmsi=int(m), lat=float(a), lon=float(o), sog_mps=4.0, msg_type=18)
                   for m, a, o in zip(mmsi[heard], lat[heard], lon[heard], strict=True)])
        table.add([AisPosition(t=t, source="rx", mmsi=1, lat=RX_LAT, lon=RX_LON + 0.05, sog_mps=5.0, msg_type=1)])
        last = np.where(heard, t, last)
        seen = np.isfinite(last)
        views = {"surface": view("surface", t, lat[seen], lon[seen], np.tile([0.0, 4.0], (int(seen.sum()), 1)),
                                 ids=np.flatnonzero(seen) + 1, mmsi=mmsi[seen], last_ais_t=last[seen]),
                 "air": empty("air", t)}
        raised += sum(e.rule == "ais_gap" and e.state == "raised" for e in eng.evaluate(t, views, reporting=table.arrays()))
    return raised


def test_transmitting_vessels_steaming_out_through_the_fading_band_raise_no_gap() -> None:
    """Class B vessels leaving a receiver's range are heard ever more rarely as its reception by range fades: told
    that reception, the rule expects their silences; told only the class A circle (a plain 74 km circle, nothing
    about class B or the fade), it takes the band's silences for switched-off transponders."""
    assert fleet_steaming_out(FADING) == 0
    assert fleet_steaming_out({"lat": RX_LAT, "lon": RX_LON, "radius_m": 74_000.0}) > 0


def test_a_vessel_that_stops_during_its_silence_owes_one_report_every_3_min() -> None:
    """A class A vessel heard every 10 s at 10 kn, silent for 40 s and then read stopped by radar (the pilot boats of
    kingston-1000): it may have gone to the 3-min interval (ITU-R M.1371-5 Table 1) since its last report, so the whole
    silence is judged at 180 s, not the 10 s reports it owed while moving; still moving, it raises within a minute."""
    table = AisReporting()
    table.add([AisPosition(t=T0 - 200.0 + 10.0 * i, source="rx", mmsi=MMSI, lat=north_of_rx(10_000.0), lon=RX_LON,
                           sog_mps=5.0, msg_type=1) for i in range(21)])
    table.add([AisPosition(t=t, source="rx", mmsi=1, lat=RX_LAT, lon=RX_LON + 0.05, sog_mps=5.0, msg_type=1)
               for t in np.arange(T0 + 10.0, T0 + 3600.0, 10.0).tolist()])
    rep = table.arrays()

    def first_raise(stops_after_s: float) -> float | None:
        eng = engine(cfg=rules({"engine": {"ais_coverage": coverage(FADING)}, "rules": {"ais_gap": {}}}))
        for k in range(181):
            t = T0 + 10.0 * k
            v = 5.0 if t - T0 < stops_after_s else 0.3
            views = {"surface": view("surface", t, [north_of_rx(10_000.0)], [RX_LON], [(0.0, v)], mmsi=MMSI,
                                     last_ais_t=T0), "air": empty("air", t)}
            if any(e.rule == "ais_gap" and e.state == "raised" for e in eng.evaluate(t, views, reporting=rep)):
                return t - T0
        return None

    assert first_raise(stops_after_s=1e9) == 60.0
    stopped = first_raise(stops_after_s=40.0)
    assert stopped is None or stopped >= 4 * 180.0


def test_memory_restores_from_a_snapshot_without_the_silence_columns() -> None:
    rep = class_b_heard([10_000.0] * 40, [T0 - 1170.0 + 30.0 * i for i in range(40)])
    cfg = rules({"engine": {"ais_coverage": coverage(FADING)}, "rules": {"ais_gap": {}}})
    eng = engine(cfg=cfg)
    views = {"surface": view("surface", T0, [north_of_rx(10_000.0)], [RX_LON], [(0.0, 4.0)], mmsi=MMSI, last_ais_t=T0),
             "air": empty("air", T0)}
    eng.evaluate(T0, views, reporting=rep)
    snap = {k: v for k, v in eng.snapshot().items() if not k.endswith((".since", ".silent_s", ".loss_s"))}
    again = type(eng).restore(eng.zones, cfg, eng.frame, snap)
    loss_s = again.catalog["ais_gap"].snapshot()["loss_s"]
    assert len(loss_s) == 1 and np.isnan(loss_s[0])  # the silence starts anew at the next tick


# dark_vessel / noncoop_transit: first seen leaving a port --------------------------------------------------

HARBOUR = box("harbour", "port", -75.01, 14.99, -74.99, 15.01)


def steaming_east(from_lon: float, first_t: float | None = None) -> Callable[[int, float], dict[str, TrackView]]:
    def make(k: int, t: float) -> dict[str, TrackView]:
        lon = from_lon + k * 50.0 / (M_PER_DEG_LAT * np.cos(np.radians(15.0)))  # 5 m/s east, 10 s ticks
        return {"surface": view("surface", t, [15.0], [lon], [(5.0, 0.0)], first_t=first_t)}
    return make


def run(rule: str, fields: dict[str, float], make: Callable[[int, float], dict[str, TrackView]], ticks: int) -> list[AlertEvent]:
    cov = coverage({"lat": 15.0, "lon": -75.0, "radius_m": 60_000.0}) if rule == "dark_vessel" else coverage()
    eng = engine(zone_set(HARBOUR), rules({"engine": {"ais_coverage": cov}, "rules": {rule: fields}}))
    out: list[AlertEvent] = []
    for k in range(ticks):
        t = T0 + k * 10.0
        out.extend(e for e in eng.evaluate(t, {"air": empty("air", t), **make(k, t)}) if e.rule == rule)
    return out


@pytest.mark.parametrize(("rule", "fields"), [("dark_vessel", {"dark_s": 600.0}),
                                              ("noncoop_transit", {"min_on_s": 0.0})])
def test_a_vessel_first_seen_leaving_port_is_not_accused(rule: str, fields: dict[str, float]) -> None:
    """Seen first 1.5 km off the harbour (just past exclude_margin_m once it is 2 km out), steaming out: it came out of
    the port, not in from the sea. The same track first seen 10 km out is raised; port_origin_m 0 turns the test off."""
    from_port = run(rule, fields, steaming_east(-74.975, first_t=T0), 120)
    at_sea = run(rule, fields, steaming_east(-74.9, first_t=T0), 120)
    off = run(rule, {**fields, "port_origin_m": 0.0}, steaming_east(-74.975, first_t=T0), 120)
    assert from_port == []
    assert [e.state for e in at_sea][:1] == ["raised"] and [e.state for e in off][:1] == ["raised"]


# ais_spoofing: a swap the tracker undid ---------------------------------------------------------------------

def spoof_events(consistent_after_flag: bool) -> list[AlertEvent]:
    """A track flagged at tick 5 by one impossible report, radar fresh again only from tick 10; its identity's reports
    update it again from tick 6 (a swap undone) or never (a spoofer's shifted reports keep failing)."""
    eng = engine(cfg=rules({"rules": {"ais_spoofing": {}}}))
    out: list[AlertEvent] = []
    for k in range(40):
        t = T0 + 10.0 * k
        ais_t = t if k < 5 or (consistent_after_flag and k >= 6) else T0 + 40.0
        views = {"surface": view("surface", t, [15.0], [-75.0], [(5.0, 0.0)], mmsi=9, last_ais_t=ais_t, spoof=k >= 5,
                                 last_noncoop_t=t if k >= 10 else T0 - 600.0), "air": empty("air", t)}
        out.extend(e for e in eng.evaluate(t, views) if e.rule == "ais_spoofing")
    return out


def test_ais_spoofing_not_raised_once_consistent_reports_resumed() -> None:
    assert spoof_events(consistent_after_flag=True) == []
    assert [(e.state, e.t - T0) for e in spoof_events(consistent_after_flag=False)][:1] == [("raised", 100.0)]
