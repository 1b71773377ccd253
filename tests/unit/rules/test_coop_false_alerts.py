"""ais_gap and ais_spoofing false alerts of the tune split (issue 14, coopfa): a stopped ship whose radar track's
velocity noise reads it moving at some ticks, a spoof flag a track inherits in a merge, and two vessels whose
identities crossed on their tracks."""

from __future__ import annotations

import numpy as np

from fusion.rules.catalog.ais_spoofing import SpoofMemory
from fusion.rules.engine import AlertEvent, RuleEngine
from fusion.rules.lineage import M_PER_DEG
from fusion.rules.reporting import AisReporting, ReportingArrays
from fusion.rules.synthetic import empty, engine, rules, view
from sensors.reports import AisPosition

T0 = 1_700_013_600.0
RX_LAT, RX_LON = 15.0, -75.0
KN = 1852.0 / 3600.0
# a shore receiver heard by class A out to 74 km, reception fading over the last 20 km
FADING = {"lat": RX_LAT, "lon": RX_LON, "radius_m": 74_000.0, "radius_class_b_m": 37_000.0, "fade_m": 20_000.0}
COVERAGE = {"everywhere": False, "zones": [], "kinds": [], "circles": [FADING], "satellite_dark_s": 0.0}


def north_of_rx(m: float) -> float:
    """Latitude (deg) ``m`` metres north of the receiver."""
    return RX_LAT + m / M_PER_DEG


# ais_gap: a ship that stopped, its radar track reading 1-5 kn with spikes above STOPPED_TRACK_KN ----------------


def ferry_reporting(range_m: float, mmsi: int = 300000022) -> ReportingArrays:
    """A class A ferry at 18 kn heard every 6 s until T0 at ``range_m`` north of the receiver (then silent), and a
    neighbour by the receiver heard every 10 s throughout (the receiver hears someone)."""
    table = AisReporting()
    reports = [AisPosition(t=T0 - 600.0 + 6.0 * i, source="rx", mmsi=mmsi, lat=north_of_rx(range_m), lon=RX_LON,
                           sog_mps=18.0 * KN, msg_type=1) for i in range(101)]
    reports += [AisPosition(t=t, source="rx", mmsi=1, lat=RX_LAT, lon=RX_LON + 0.05, sog_mps=5.0, msg_type=1)
                for t in np.arange(T0 - 600.0, T0 + 1800.0, 10.0).tolist()]
    table.add(sorted(reports, key=lambda r: r.t))
    return table.arrays()


def gap_raised(rep: ReportingArrays, range_m: float, speeds_kn: list[float], dt: float = 5.0,
               radar_off: tuple[float, float] = (0.0, 0.0)) -> list[float]:
    """Times (s after T0) ais_gap raised on the ferry silent since T0 at ``range_m``, its track reading ``speeds_kn[k]``
    at tick k (every ``dt``), radar holding it but between ``radar_off`` (s after T0; the track coasts)."""
    eng: RuleEngine = engine(cfg=rules({"engine": {"ais_coverage": COVERAGE}, "rules": {"ais_gap": {}}}))
    out: list[float] = []
    for k, v in enumerate(speeds_kn):
        t = T0 + k * dt
        radar_t = T0 + radar_off[0] if radar_off[0] <= t - T0 < radar_off[1] else t
        views = {"surface": view("surface", t, [north_of_rx(range_m)], [RX_LON], [(0.0, v * KN)], mmsi=300000022,
                                 last_ais_t=T0, last_noncoop_t=radar_t), "air": empty("air", t)}
        out.extend(e.t - T0 for e in eng.evaluate(t, views, reporting=rep) if e.rule == "ais_gap" and e.state == "raised")
    return out


def stopped_track_kn(n: int, seed: int, spike_every: int) -> list[float]:
    """``n`` speeds (kn) a stopped ship's radar track reads: 0.5-5 kn of velocity noise, and every ``spike_every``-th
    tick a reading of 6.3-8 kn (the ferry of kingston-1000 read 6.3 kn 9 min after it stopped at 68 km)."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.5, 5.0, n)
    v[spike_every::spike_every] = rng.uniform(6.3, 8.0, len(v[spike_every::spike_every]))
    return [float(x) for x in v]


def test_a_stopped_ship_whose_track_reads_a_moving_speed_now_and_then_owes_one_report_every_3_min() -> None:
    """kingston-1000's ferry: silent after stopping at its far terminal, 68 km from the receiver (class A reception
    about 0.3 there), its track reading 6.3 kn at one tick 9 min later. Judged at its 6 s interval of 18 kn over the whole
    silence, that tick raised; it may have been at anchor since the first slow reading, reporting every 180 s
    (ITU-R M.1371-5 Table 1), and four lost reports at 0.3 reception are no evidence."""
    rep = ferry_reporting(68_000.0)
    slow = [18.0] * 6 + stopped_track_kn(354, seed=3, spike_every=40)  # 30 min: stops 30 s after its last report
    assert gap_raised(rep, 68_000.0, slow) == []


def test_a_ship_that_stopped_and_steams_on_still_raises() -> None:
    """Read slow once (it may have stopped) and then steaming at 12 kn, silent all along near the receiver: the
    reports due since the last slow reading are the 10 s ones, so the gap is raised a minute or two after that
    reading, not 15 min later as a ship at anchor; never read slow, it raises at the 60 s floor."""
    rep = ferry_reporting(5_000.0)
    assert gap_raised(rep, 5_000.0, [12.0] * 60)[0] == 60.0
    slowed = gap_raised(rep, 5_000.0, [12.0] * 6 + [2.0] * 6 + [12.0] * 100)
    assert slowed and 60.0 < slowed[0] <= 60.0 + 120.0


# ais_spoofing: the flag inherited in a merge, identities crossed ---------------------------------------------------

MMSI, OTHER = 9, 77
LAT, LON = 15.01, -75.0


def heard(*reports: tuple[int, float, float]) -> ReportingArrays:
    """The reporting table after one report per (mmsi, lat, t)."""
    table = AisReporting()
    table.add([AisPosition(t=t, source="rx", mmsi=m, lat=lat, lon=LON, sog_mps=5.0) for m, lat, t in
               sorted(reports, key=lambda r: r[2])])
    return table.arrays()


def spoof_events(eng: RuleEngine, t: float, lats: list[float], mmsi: list[int], spoof: list[bool],
                 last_ais_t: list[float], rep: ReportingArrays, ids: list[int] | None = None) -> list[AlertEvent]:
    views = {"surface": view("surface", t, lats, LON, [(0.0, 0.0)] * len(lats), ids=ids, mmsi=mmsi, spoof=spoof,
                             last_ais_t=last_ais_t), "air": empty("air", t)}
    return [e for e in eng.evaluate(t, views, reporting=rep) if e.rule == "ais_spoofing" and e.state == "raised"]


def test_a_flag_inherited_in_a_merge_keeps_the_absorbed_tracks_flag_time() -> None:
    """kingston-1000's pilot boat: a duplicate track at its berth (id 1) was flagged while the boat's identity was
    heard at the other track bearing it (id 2: a swap, exempt); the tracker merged 1 into 2 after 2's consistent AIS
    updates and ORed the flag into 2. The flag is the old one, answered by those updates: no alert. Without the merge
    record the flag looks new and the updates older than it."""
    rep = heard((MMSI, LAT, T0 + 25.0))
    for merged, want in ((True, 0), (False, 1)):
        eng = engine(cfg=rules({"rules": {"ais_spoofing": {}}}))
        assert spoof_events(eng, T0, [LAT, LAT], [MMSI, MMSI], [True, False], [T0 - 5.0, T0 - 5.0], heard((MMSI, LAT, T0 - 5.0)),
                            ids=[1, 2]) == []
        if merged:
            eng.on_merge(np.array([[1, 2]]))
        assert len(spoof_events(eng, T0 + 30.0, [LAT], [MMSI], [True], [T0 + 25.0], rep, ids=[2])) == want


def test_crossed_identities_are_a_swap_not_spoofing() -> None:
    """buenaventura-1000: the ferry left the pilot boat's berth; the ferry's identity stayed on the track at the berth
    and the pilot boat's went with the ferry. The ferry's reports are impossible against its identity's track, but
    they fit a track bearing the pilot boat's identity, whose last report was at the berth: crossed, not raised. The
    other identity heard elsewhere (a vessel there sending its own), or never: raised."""
    away = LAT + 1000.0 / M_PER_DEG
    far = LAT + 20_000.0 / M_PER_DEG

    def raised(rep: ReportingArrays) -> bool:
        eng = engine(cfg=rules({"rules": {"ais_spoofing": {}}}))
        return bool(spoof_events(eng, T0, [LAT, away], [MMSI, OTHER], [True, False], [T0 - 60.0, T0 - 2.0], rep))

    assert not raised(heard((MMSI, away, T0 - 2.0), (OTHER, LAT, T0 - 60.0)))
    assert raised(heard((MMSI, away, T0 - 2.0), (OTHER, far, T0 - 60.0)))
    assert raised(heard((MMSI, away, T0 - 2.0)))
    # a spoofer's report 20 km off, by a vessel sending its own identity, which was never heard at the spoofer
    assert raised(heard((MMSI, far, T0 - 2.0), (OTHER, far, T0 - 5.0)))


def test_a_track_radar_lost_during_the_silence_is_not_raised() -> None:
    """buenaventura-1001: a merchant's track coasted 11 min after the ship left radar and AIS range, and came out of it
    on a ferry's plots, the merchant's identity with it; the merchant's silence, counted at the reception where the
    ferry steamed in, raised a gap. Radar lost the track for longer than twice radar_fresh_s (the age at which a
    raised gap no longer holds) during the silence: what it holds now is not known to be the silent vessel. A break
    within that age is not a loss."""
    rep = ferry_reporting(68_000.0)  # class A reception about 0.3 there: the gap takes minutes of evidence
    held = gap_raised(rep, 68_000.0, [12.0] * 200)
    assert held and 200.0 <= held[0] <= 600.0
    assert gap_raised(rep, 68_000.0, [12.0] * 200, radar_off=(10.0, 600.0)) == []
    assert gap_raised(rep, 68_000.0, [12.0] * 200, radar_off=(10.0, 200.0))[0] == held[0]  # a 190 s break: no loss


def test_spoof_memory_merge_keeps_the_earliest_flag_along_chains() -> None:
    """Merges 1 -> 2 and 2 -> 3 in one batch: 3 keeps the earliest of the three flag times; 4 is untouched."""
    mem = SpoofMemory(cols={"track_id": np.array([1, 2, 3, 4]), "flag_t": np.array([50.0, 20.0, 80.0, 10.0])})
    mem.merge(np.array([[1, 2], [2, 3]]))
    assert mem.cols["track_id"].tolist() == [3, 4] and mem.cols["flag_t"].tolist() == [20.0, 10.0]
    mem.merge(np.array([[7, 3]]))  # an absorbed track never flagged: nothing changes
    assert mem.cols["track_id"].tolist() == [3, 4]
