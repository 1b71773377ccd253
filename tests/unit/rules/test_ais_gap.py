"""ais_gap from the expected reporting interval (ITU-R M.1371-5 Tables 1-2) and the observed reception."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.rules.reporting import (
    AisReporting,
    ReportingArrays,
    missed_report_limit_s,
    missed_reports_needed,
    report_interval_s,
    reporting_interval_s,
)
from fusion.rules.synthetic import KN, empty, engine, rules, view
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
MMSI = 367000002


def heard(times: list[float], sog_mps: float | None, msg_type: int = 1, mmsi: int = MMSI) -> AisReporting:
    table = AisReporting()
    table.add([AisPosition(t=t, source="rx", mmsi=mmsi, lat=15.0, lon=-75.0, sog_mps=sog_mps, msg_type=msg_type) for t in times])
    return table


def first_raise(reporting: ReportingArrays, silent_for: float, dt: float = 5.0, **rule: float) -> float | None:
    """Seconds of AIS silence (radar holding the track) at which ais_gap raises, None if not within ``silent_for``."""
    eng = engine(cfg=rules({"rules": {"ais_gap": rule}}))
    for k in range(int(silent_for / dt) + 1):
        t = T0 + k * dt
        views = {"surface": view("surface", t, [15.0], [-75.0], [(0.5, 0.0)], mmsi=MMSI, last_ais_t=T0), "air": empty("air", t)}
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
    every_other = heard([T0 + 20.0 * i for i in range(40)], 5.0)  # class A every 10 s, one report in two heard
    p = every_other.arrays().reception(np.array([MMSI, 1]), p_default=0.8, prior_gaps=5.0)
    assert 0.5 < p[0] < 0.6  # ten learnt gaps at ratio 2 against five prior ones at 1.25
    assert p[1] == 0.8  # never heard: the default
    # the same report from a second receiver, and silences longer than 20 intervals, teach nothing
    dup = heard([T0, T0 + 0.01, T0 + 10.0, T0 + 10.02, T0 + 1000.0], 5.0).arrays()
    assert dup.learnt.tolist() == [1] and abs(dup.gap_ratio[0] - 0.999) < 1e-9  # 10 s after the second copy


def test_state_round_trips() -> None:
    table = heard([T0 + 10.0 * i for i in range(5)], None)
    again = AisReporting()
    again.restore(table.state())
    a, b = table.arrays(), again.arrays()
    assert all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in ("mmsi", "msg_type", "sog_mps", "gap_ratio", "learnt"))


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
    views = {"surface": view("surface", T0, [15.0], [-75.0], [(0.5, 0.0)], mmsi=MMSI, last_ais_t=T0 - silence_s),
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
