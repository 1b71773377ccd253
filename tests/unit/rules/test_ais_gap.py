"""ais_gap from the expected reporting interval (ITU-R M.1371-5 Tables 1-2) and the observed reception."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.rules.reporting import (
    MAX_LEARN_INTERVALS,
    AisReporting,
    ReportingArrays,
    missed_report_limit_s,
    missed_reports_needed,
    report_interval_s,
    reporting_interval_s,
    silence,
)
from fusion.rules.synthetic import KN, empty, engine, rules, view
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
MMSI = 367000002
LAT = 15.01  # inside a reception-map cell (0.05 deg), off its edges


NEIGHBOUR = 367000003


def heard(times: list[float], sog_mps: float | None, msg_type: int = 1, mmsi: int = MMSI,
          traffic_until: float | None = T0 + 7200.0) -> AisReporting:
    """The reporting table after reports of ``mmsi`` at ``times`` and, until ``traffic_until`` (None: none), of a
    class B neighbour underway beside it heard at each of its 30 s reports (the receiver keeps hearing someone)."""
    table = AisReporting()
    reports = [AisPosition(t=t, source="rx", mmsi=mmsi, lat=LAT, lon=-75.0, sog_mps=sog_mps, msg_type=msg_type) for t in times]
    if traffic_until is not None:
        reports += [AisPosition(t=t, source="rx", mmsi=NEIGHBOUR, lat=LAT, lon=-75.0, sog_mps=5.0, msg_type=18)
                    for t in np.arange(T0 - 7200.0, traffic_until, 30.0).tolist()]
    table.add(sorted(reports, key=lambda r: r.t))
    return table


def first_raise(reporting: ReportingArrays, silent_for: float, dt: float = 5.0, speed_mps: float = 5.0,
                lat: float = LAT, radar_until: float = math.inf, **rule: float) -> float | None:
    """Seconds of AIS silence (radar holding the track at ``lat``, -75, moving at ``speed_mps``, updating it until
    ``radar_until`` s of the silence, then coasting) at which ais_gap raises, None if not within ``silent_for``."""
    eng = engine(cfg=rules({"rules": {"ais_gap": rule}}))
    for k in range(int(silent_for / dt) + 1):
        t = T0 + k * dt
        radar_t = min(t, T0 + radar_until)
        views = {"surface": view("surface", t, [lat], [-75.0], [(speed_mps, 0.0)], mmsi=MMSI, last_ais_t=T0,
                                 last_noncoop_t=radar_t, last_t=radar_t),
                 "air": empty("air", t)}
        raised = [e for e in eng.evaluate(t, views, reporting=reporting) if e.rule == "ais_gap" and e.state == "raised"]
        if raised:
            return t - T0
    return None


def test_reporting_intervals_follow_itu_r_m1371_tables() -> None:
    kn = np.array([0.0, 2.9, 5.0, 13.9, 15.0, 22.9, 30.0, np.nan]) * KN
    assert reporting_interval_s(np.ones(8, np.int64), kn).tolist() == [180, 180, 10, 10, 6, 6, 2, 180]
    assert reporting_interval_s(np.full(8, 18), kn).tolist() == [180, 30, 30, 30, 30, 30, 30, 180]
    assert reporting_interval_s(np.full(2, 27), np.array([0.0, 10.0])).tolist() == [180, 180]


def test_reception_is_learnt_from_the_gaps() -> None:
    every_other = heard([T0 + 20.0 * i for i in range(40)], 5.0, traffic_until=None)  # class A every 10 s, one report in two heard
    p = every_other.arrays().reception(np.array([MMSI, 1]), p_default=0.8, prior_gaps=5.0)
    assert 0.5 < p[0] < 0.6  # ten learnt gaps at ratio 2 against five prior ones at 1.25
    assert p[1] == 0.8  # never heard: the default
    # the same report from a second receiver, and silences longer than 20 intervals, teach nothing
    dup = heard([T0, T0 + 0.01, T0 + 10.0, T0 + 10.02, T0 + 1000.0], 5.0, traffic_until=None).arrays()
    assert dup.learnt.tolist() == [1] and abs(dup.gap_ratio[0] - 0.999) < 1e-9  # 10 s after the second copy


def test_state_round_trips() -> None:
    table = heard([T0 + 10.0 * i for i in range(5)], None)
    again = AisReporting()
    again.restore(table.state())
    a, b = table.arrays(), again.arrays()
    assert all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in
               ("mmsi", "msg_type", "sog_mps", "gap_ratio", "learnt", "last_t", "lat", "lon", "cell", "cell_heard", "cell_slots"))
    assert a.heard_until == b.heard_until
    old = AisReporting()  # a checkpoint from before the reception map: vessel rows without position
    old.restore([[float(MMSI), T0, 1.0, 5.0, 1.0, 3.0]])
    assert old.arrays().last_t.tolist() == [T0] and np.isnan(old.arrays().lat[0]) and not len(old.arrays().cell)


def test_silence_counts_from_the_mmsi_heard_where_a_vessel_carries_it() -> None:
    """Issue 14: reports of the MMSI that did not update the track bearing it (went to a neighbour's or a duplicate
    track, or are not applied yet) show the transponder is on where they were heard: the silence runs from the latest
    of them. A spoofer's reports, miles from any track, do not stop it."""
    here = heard([T0 - 200.0 + 10.0 * i for i in range(41)], 5.0)  # heard at the track until T0 + 200 s
    assert first_raise(here.arrays(), 400.0) == 260.0
    far = heard([T0 - 200.0 + 10.0 * i for i in range(21)], 5.0)
    far.add([AisPosition(t=T0 + 10.0 * i, source="rx", mmsi=MMSI, lat=LAT + 0.5, lon=-75.0, sog_mps=5.0) for i in range(1, 21)])
    assert first_raise(far.arrays(), 400.0) == 60.0  # 55 km away: counts from the track's last AIS update


def test_a_receiver_hearing_no_one_is_no_evidence() -> None:
    """At the end of a recording (or a receiver switched off) nobody is heard: silences stop counting then."""
    reports = [T0 - 200.0 + 10.0 * i for i in range(21)]
    assert first_raise(heard(reports, 5.0).arrays(), 300.0) == 60.0
    quiet = heard(reports, 5.0, traffic_until=T0 + 15.0).arrays()  # the neighbour's last report: T0
    assert first_raise(quiet, 300.0) is None  # nobody heard after T0: the silence stops at T0 + 20 s
    since, until = silence(quiet, T0 + 300.0, np.array([T0]), np.array([np.nan]))
    assert since.tolist() == [T0] and until == T0 + 20.0
    assert silence(quiet, T0 + 15.0, np.array([T0]), np.array([np.nan]))[1] == T0 + 15.0  # a usual pause between reports


def test_a_track_reading_slow_may_be_a_ship_gone_to_anchor() -> None:
    """A ship reported underway whose radar track now reads below STOPPED_TRACK_KN may have stopped and gone to the
    3-min interval (ITU-R M.1371-5 Table 1): a minute of silence is no gap then."""
    underway = heard([T0 - 200.0 + 10.0 * i for i in range(21)], 5.0).arrays()
    assert first_raise(underway, 300.0, speed_mps=5.0) == 60.0
    stopped = first_raise(underway, 1200.0, speed_mps=0.5)
    assert stopped is not None and stopped >= 2 * 180.0


def test_reception_map_brings_the_fading_band_of_where_the_vessel_is() -> None:
    """A vessel heard well near the receiver steams into a cell where the other traffic is heard one report in four:
    its reception there is the cell's, so a silence must be longer before it is a gap."""
    table = heard([T0 - 200.0 + 10.0 * i for i in range(21)], 5.0)  # at LAT, every report heard
    far = LAT + 0.2  # four cells north: class A traffic heard one report in four
    table.add([AisPosition(t=T0 - 3000.0 + 40.0 * i, source="rx", mmsi=5, lat=far, lon=-75.0, sog_mps=5.0) for i in range(70)])
    rep = table.arrays()
    p_near, p_far = (rep.reception(np.array([MMSI]), 0.8, 5.0, np.array([lat]), np.array([-75.0]))[0] for lat in (LAT, far))
    assert p_near > 0.9 and 0.2 < p_far < 0.35
    near, away = first_raise(rep, 900.0), first_raise(rep, 900.0, lat=far)
    assert near == 60.0 and away is not None and away > 3 * near


def test_gaps_longer_than_the_learning_cut_count_as_lost_slots_in_the_map() -> None:
    """Censored gaps: a silence of more than MAX_LEARN_INTERVALS intervals adds that many expected slots and none heard."""
    table = AisReporting()
    table.add([AisPosition(t=t, source="rx", mmsi=5, lat=LAT, lon=-75.0, sog_mps=5.0) for t in (T0, T0 + 10.0, T0 + 1000.0)])
    rep = table.arrays()
    assert rep.cell_heard.tolist() == [1.0] and rep.cell_slots.tolist() == [1.0 + MAX_LEARN_INTERVALS]
    assert rep.learnt.tolist() == [1]  # the vessel's own average still learns only from the short gap


def test_anchored_class_a_silent_for_its_3_min_interval_is_not_a_gap() -> None:
    """Issue 14 cause (a): stopped ships report every 180 s by design; a fixed 180 s threshold fired at 180-185 s."""
    anchored = heard([T0 - 1800.0 + 180.0 * i for i in range(11)], 0.0).arrays()  # every report heard, 0 kn
    at = first_raise(anchored, 1200.0)
    assert at is not None and at >= 3 * 180.0  # several consecutive 3-min reports must be missing
    p = anchored.reception(np.array([MMSI]), 0.8, 5.0)
    limit, interval, _ = missed_report_limit_s(np.array([1]), np.array([0.0]), p, 0.01, 60.0)
    assert interval[0] == 180.0 and at == math.ceil(limit[0] / 5.0) * 5.0


def test_underway_class_a_heard_well_raises_after_a_minute() -> None:
    underway = heard([T0 - 200.0 + 10.0 * i for i in range(21)], 5.0).arrays()
    assert first_raise(underway, 300.0) == 60.0


def test_a_vessel_gone_from_radar_and_ais_together_is_not_a_gap() -> None:
    """kingston-1001's anchored-7 at the end of its route: radar's last update 5 s after the last AIS report, the track
    coasting within radar_fresh_s when the silence reaches its limit. Radar never saw the vessel after a report was due
    (one 10 s interval): nothing shows a silent vessel there. Radar updating it 10 s after (one interval): raised."""
    underway = heard([T0 - 200.0 + 10.0 * i for i in range(21)], 5.0).arrays()
    assert first_raise(underway, 300.0, radar_until=5.0, radar_fresh_s=120.0) is None
    assert first_raise(underway, 300.0, radar_until=10.0, radar_fresh_s=120.0) == 60.0


def test_poor_reception_needs_a_longer_silence() -> None:
    good = heard([T0 - 400.0 + 10.0 * i for i in range(41)], 5.0).arrays()
    poor = heard([T0 - 400.0 + 40.0 * i for i in range(11)], 5.0).arrays()  # one report in four heard
    g, p = first_raise(good, 900.0), first_raise(poor, 900.0)
    assert g is not None and p is not None and p > g


@settings(max_examples=200, deadline=None)
@given(msg_type=st.sampled_from([1, 2, 3, 18, 19, 27]), sog_kn=st.floats(0.0, 40.0) | st.just(math.nan),
       p_rx=st.floats(0.05, 1.0), per_day=st.floats(1e-4, 0.5))
def test_limit_is_k_intervals_with_k_the_least_below_alpha(msg_type: int, sog_kn: float, p_rx: float, per_day: float) -> None:
    """Never fires before the class's interval x k, k minimal: (1 - p)^k < alpha <= (1 - p)^(k - 1)."""
    limit, interval, k = missed_report_limit_s(np.array([msg_type]), np.array([sog_kn * KN]), np.array([p_rx]), per_day, 0.0)
    alpha = per_day * interval[0] / 86_400.0
    assert limit[0] == k[0] * interval[0] and interval[0] in (2.0, 6.0, 10.0, 30.0, 180.0)
    q = 1.0 - min(p_rx, 1.0 - 1e-9)
    assert q ** k[0] < alpha * (1 + 1e-9)
    assert k[0] == 1 or q ** (k[0] - 1) >= alpha * (1 - 1e-9)


@settings(max_examples=200, deadline=None)
@given(p=st.lists(st.floats(0.01, 0.999), min_size=2, max_size=2), alpha=st.floats(1e-9, 0.5))
def test_more_reception_needs_fewer_missed_reports(p: list[float], alpha: float) -> None:
    lo, hi = sorted(p)
    k = missed_reports_needed(np.array([lo, hi]), alpha)
    assert k[0] >= k[1]


def raises_after(reporting: ReportingArrays, silence_s: float) -> bool:
    """One tick of a fresh engine, AIS silent for ``silence_s`` while radar holds the track: raised?"""
    views = {"surface": view("surface", T0, [LAT], [-75.0], [(5.0, 0.0)], mmsi=MMSI, last_ais_t=T0 - silence_s),
             "air": empty("air", T0)}
    return any(e.rule == "ais_gap" for e in engine(cfg=rules({"rules": {"ais_gap": {}}})).evaluate(T0, views, reporting=reporting))


@settings(max_examples=40, deadline=None)
@given(gaps=st.lists(st.floats(2.0, 400.0), min_size=1, max_size=30), sog_kn=st.floats(0.0, 30.0) | st.just(math.nan),
       msg_type=st.sampled_from([1, 18, 27]), silences=st.lists(st.floats(0.0, 5000.0), min_size=2, max_size=2))
def test_raise_is_monotone_in_the_silence_and_never_before_k_intervals(
        gaps: list[float], sog_kn: float, msg_type: int, silences: list[float]) -> None:
    """A vessel alerted after a silence is alerted after every longer one, and never before its interval x k."""
    times = (T0 - 6000.0 + np.cumsum(gaps)).tolist()
    table = heard(times, None if math.isnan(sog_kn) else sog_kn * KN, msg_type).arrays()
    short, long = sorted(silences)
    assert not raises_after(table, short) or raises_after(table, long)
    p = table.reception(np.array([MMSI]), 0.8, 5.0)
    _, interval, k = missed_report_limit_s(table.msg_type, table.sog_mps, p, 0.01, 60.0)
    assert not raises_after(table, float(k[0] * interval[0]) - 1.0)


@given(st.sampled_from([1, 2, 3, 18, 19, 24, 27]), st.one_of(st.just(math.nan), st.floats(0.0, 40.0)))
def test_one_vessels_interval_equals_the_array_form(msg_type: int, sog_mps: float) -> None:
    assert report_interval_s(msg_type, sog_mps) == reporting_interval_s(np.array([msg_type]), np.array([sog_mps]))[0]
