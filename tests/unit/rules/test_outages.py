"""fusion.outages: a silence of the whole link is not counted against any vessel by the gap rules.

The San Andres scenario is fused offline with and without an outage of all traffic (every
message received in the window is lost, as when the broker is down): the outage raises no
alert, and re-raises none, that the run without it does not raise.
"""

from __future__ import annotations

import itertools
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from fusion.offline import fusion_for_area
from fusion.outages import Heartbeats, OutageSettings, covered_s
from fusion.pipeline import FusionConfig
from sim_feeds.play import iter_feed
from sim_feeds.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "sim_feeds/scenarios/ais_dark_spoof_san_andres.toml"


@cache
def feed() -> tuple[float, tuple[tuple[float, str, bytes], ...]]:
    sc = load_scenario(SCENARIO)
    return sc.t0, tuple((m.t, m.topic, m.payload) for m in itertools.takewhile(lambda m: m.t < sc.t0 + 2400.0, iter_feed(sc)))


def raised(gap: tuple[float, float] | None, settings: OutageSettings | None = None,
           state: str = "raised") -> Counter[tuple[str, int | None]]:
    """(rule, mmsi) -> alert events in ``state`` (raised, cleared), the messages received in ``gap`` (s after t0) lost."""
    sc = load_scenario(SCENARIO)
    t0, msgs = feed()
    f = fusion_for_area(sc.area, sc.zones_geojson(), sc.name, None, FusionConfig(outages=settings or OutageSettings()))
    out: Counter[tuple[str, int | None]] = Counter()
    for t, topic, payload in msgs:
        if gap is not None and t0 + gap[0] <= t < t0 + gap[1]:
            continue
        for tick in f.advance(t):
            out.update((a.rule, a.mmsi) for a in tick.alerts if a.state == state)
        f.accept(topic, payload, t)
    for tick in f.finish():
        out.update((a.rule, a.mmsi) for a in tick.alerts if a.state == state)
    return out


@pytest.mark.parametrize("gap", [(1500.0, 1510.0), (1500.0, 1900.0), (1000.0, 1400.0)])
def test_link_outage_raises_nothing_new(gap: tuple[float, float]) -> None:
    reference = raised(None)
    assert reference, "the scenario raises no alert"
    extra = raised(gap) - reference
    assert not extra, f"alerts raised because of the outage {gap}: {extra} (without it: {reference})"


def test_without_outage_awareness_the_link_outage_clears_a_real_gap() -> None:
    """What the outages prevent: the radar silence of the link counted against the tracks. It cleared the real ais_gap
    of the vessel that switched AIS off and raised it again after the outage (the reported fault: also a false one);
    since ais_gap needs radar to have held the track through the silence, it is cleared and not raised again. With the
    outages known, the alert holds across them."""
    gap, never = (1500.0, 1900.0), OutageSettings(min_s=np.inf)
    assert raised(gap, never, "cleared") - raised(None, never, "cleared")
    assert not raised(gap, state="cleared") - raised(None, state="cleared")


def test_heartbeats_find_silences_of_the_link_and_the_feeds() -> None:
    hb = Heartbeats(OutageSettings(factor=5.0, min_s=3.0, warmup=5))
    t = 0.0
    for _ in range(30):
        hb.observe("ais", "jisf/v1/feeds/ais/a", t)
        hb.observe("radar", "jisf/v1/feeds/radar/r", t + 0.5)
        t += 1.0
    assert not len(hb.outages(t).ais)
    # the AIS feed stops, the radar goes on
    for _ in range(10):
        hb.observe("radar", "jisf/v1/feeds/radar/r", t + 0.5)
        t += 1.0
    now = hb.outages(t)
    assert now.ais.tolist() == [[29.0, t]] and not len(now.noncoop)
    assert hb.silent_sources(t) == ["jisf/v1/feeds/ais/a"]
    hb.observe("ais", "jisf/v1/feeds/ais/a", t)  # back: a closed silence
    assert hb.outages(t + 0.1).ais.tolist() == [[29.0, t]]
    restored = Heartbeats(hb.settings)
    restored.restore(hb.state())
    assert restored.outages(t + 0.1).ais.tolist() == [[29.0, t]]


def test_covered_seconds() -> None:
    iv = np.array([[10.0, 20.0], [30.0, 35.0]])
    got = covered_s(np.array([0.0, 15.0, 25.0, np.nan]), 32.0, iv)
    assert got.tolist() == [12.0, 7.0, 2.0, 0.0]
