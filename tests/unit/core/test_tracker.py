"""Tracker behaviour: confirmation, deletion, identity, spoof, merge, OOSM, snapshot."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from fusion.core.arrays import CONFIRMED, NO_ICAO, NO_MMSI, TENTATIVE, MeasBatch
from fusion.core.config import PoolConfig
from fusion.core.tracker import Tracker, TrackerConfig


def _batch(t: float, xy: list[list[float]], kind: str = "radar", mmsi: list[int] | None = None) -> MeasBatch:
    z = np.full((len(xy), 4), np.nan)
    z[:, :2] = xy
    R = np.zeros((len(xy), 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = 50.0**2
    m = np.array(mmsi if mmsi else [NO_MMSI] * len(xy), dtype=np.int64)
    return MeasBatch(t=np.full(len(xy), t), z=z, R=R, has_vel=np.zeros(len(xy), bool), alt_m=np.full(len(xy), np.nan),
                     sigma_alt_m=np.full(len(xy), np.nan), mmsi=m, icao24=np.full(len(xy), NO_ICAO, np.int64),
                     sensor_kind=kind, sensor_id="s", domain="surface")


def _run(trk: Tracker, scans: int, vel: float = 5.0, start: float = 0.0) -> None:
    for k in range(scans):
        t = start + 4.0 * k
        trk.step(_batch(t, [[vel * t, 0.0], [vel * t, 20_000.0]]))


def test_two_targets_confirm_and_estimate_velocity() -> None:
    trk = Tracker(TrackerConfig(), "surface")
    _run(trk, 10)
    v = trk.view(36.0)
    assert len(v) == 2 and (v.status == CONFIRMED).all()
    np.testing.assert_allclose(v.x[:, 2], 5.0, atol=1.0)


def test_missed_looks_delete_a_confirmed_track() -> None:
    trk = Tracker(TrackerConfig(delete_misses=3, look_margin_m=30_000.0), "surface")
    _run(trk, 5)
    ids = set(trk.view(16.0).track_id.tolist())
    deleted = []
    for k in range(5, 9):  # only the second target is still seen
        deleted += trk.step(_batch(4.0 * k, [[20.0 * k, 20_000.0]])).deleted_ids.tolist()
    assert len(deleted) == 1 and deleted[0] in ids


def test_radar_track_takes_ais_identity_and_keeps_its_id_then_spoof_is_flagged() -> None:
    trk = Tracker(TrackerConfig(), "surface")
    _run(trk, 4)
    tid = int(trk.view(12.0).track_id[0])
    trk.step(_batch(16.0, [[80.0, 0.0]], kind="ais", mmsi=[366000001]))
    v = trk.view(16.0)
    assert int(v.mmsi[v.track_id == tid][0]) == 366000001
    res = trk.step(_batch(20.0, [[500_000.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert res.spoof_ids.tolist() == [tid]
    assert trk.view(20.0).spoof_suspect[trk.view(20.0).track_id == tid].all()
    assert trk.identity_history()[:, 1].tolist() == [tid]


def test_out_of_sequence_rerun_equals_in_order_and_late_is_dropped() -> None:
    scans = [_batch(4.0 * k, [[5.0 * 4 * k, 0.0]]) for k in range(8)]
    a = Tracker(TrackerConfig(), "surface")  # (b: a re-run of 8 s, beyond the default re-run budget's depth)
    b = Tracker(TrackerConfig(oosm_lag_s=30.0, checkpoint_interval_s=4.0, rerun_burst_s=math.inf), "surface")
    for s in scans:
        a.step(s)
    for s in scans[:5] + scans[6:] + [scans[5]]:
        b.step(s)
    np.testing.assert_allclose(a.view(28.0).x, b.view(28.0).x, rtol=1e-12)
    assert b.step(_batch(-40.0, [[0.0, 0.0]])).late_dropped == 1


def test_a_slightly_late_batch_reruns_from_a_recent_checkpoint_only() -> None:
    # 5 Hz scans for 40 s: checkpoints every 0.5 s over the newest 2 s, 10 s apart before, one at the lag horizon
    scans = [_batch(0.2 * k, [[1.0 * k, 0.0], [1.0 * k, 20_000.0]]) for k in range(200)]
    late = _batch(39.5, [[200.0, 5_000.0]])
    a, b = Tracker(TrackerConfig(), "surface"), Tracker(TrackerConfig(), "surface")
    for s in scans[:198] + [late] + scans[198:]:
        a.step(s)
    assert all(b.step(s).rerun_batches == 0 for s in scans)  # in sequence: no re-run
    times = [cp.t for cp in b._oosm.checkpoints]
    assert len(times) <= 30.0 / 10.0 + 2.0 / 0.5 + 2 and times[-1] >= 39.0 and min(np.diff(times)) > 0.3  # stamped at the batch before
    res = b.step(late)  # 0.3 s older than the newest batch
    assert 1 <= res.rerun_batches <= (0.5 + 0.3) / 0.2 + 2  # not the up to 10 s (50 scans) of one coarse checkpoint
    np.testing.assert_allclose(a.view(40.0).x, b.view(40.0).x, rtol=1e-12)


def test_radar_misses_do_not_delete_a_track_that_ais_keeps_reporting() -> None:
    # a ship 20 km out reports AIS every 6 s; a radar covering it scans every 2 s and never sees it (radar shadow),
    # only a buoy 10 km away; after 60 s the AIS stops (transponder off)
    trk = Tracker(TrackerConfig(), "surface")
    ship = lambda t: [[20_000.0 + 3.0 * t, 0.0]]  # noqa: E731 - 3 m/s east
    events = [(t, _batch(t, ship(t), kind="ais", mmsi=[366000001])) for t in np.arange(0.0, 60.0, 6.0)]
    events += [(t, replace(_batch(t, [[0.0, 10_000.0]]), look_en_m=(0.0, 0.0, 40_000.0))) for t in np.arange(1.0, 120.0, 2.0)]
    alive = {}
    for t, b in sorted(events, key=lambda e: e[0]):
        trk.step(b)
        alive[t] = [int(i) for i, m in zip(trk.view(t).track_id, trk.view(t).mmsi, strict=True) if m == 366000001]
    while_reporting = {tuple(v) for t, v in alive.items() if 12.0 <= t < 60.0}
    assert len(while_reporting) == 1 and len(next(iter(while_reporting))) == 1  # one track, one id, throughout
    assert alive[max(alive)] == []  # the reports stopped: radar misses count again and delete it
    with pytest.raises(ValueError, match="coop_fresh_s"):
        PoolConfig(coop_fresh_s=-1.0)


@pytest.mark.parametrize(("away_m", "spoof"), [(1_100.0, False), (10_000.0, True)])
def test_identity_reach_counts_from_the_identitys_last_report(away_m: float, spoof: bool) -> None:
    # a boat at its berth reports every 3 min; radar plots at the berth (its neighbours' too) keep updating
    # its track; it leaves, and its next report is 1.1 km out: 180 s at max_speed_mps reach that, the 10 s
    # since the last radar update do not; 10 km is beyond reach either way (spoof)
    trk = Tracker(TrackerConfig(), "surface")
    for t in (0.0, 6.0):
        trk.step(_batch(t, [[0.0, 0.0]], kind="ais", mmsi=[366000001]))
    for t in np.arange(8.0, 180.0, 4.0):
        trk.step(_batch(float(t), [[0.0, 0.0]]))
    (tid,) = trk.view(176.0).track_id[trk.view(176.0).mmsi == 366000001].tolist()
    res = trk.step(_batch(186.0, [[away_m, 0.0]], kind="ais", mmsi=[366000001]))
    assert res.spoof_ids.tolist() == ([tid] if spoof else [])


def test_a_deleted_tracks_identity_brings_its_id_back() -> None:
    # a ship reports AIS, falls silent beyond the deletion limit (out of coverage), then reports again:
    # its MMSI names one vessel, so the new track is re-linked to the old id; another MMSI gets a fresh id
    trk = Tracker(TrackerConfig(), "surface")
    for t in (0.0, 6.0, 12.0):
        trk.step(_batch(t, [[3.0 * t, 0.0]], kind="ais", mmsi=[366000001]))
    (tid,) = trk.view(12.0).track_id.tolist()
    gone = 12.0 + trk.pool.max_coast_s + 1.0
    assert trk.advance(gone).deleted_ids.tolist() == [tid] and len(trk) == 0
    res = trk.step(_batch(gone + 1.0, [[3.0 * gone, 0.0], [0.0, 30_000.0]], kind="ais", mmsi=[366000001, 366000002]))
    assert res.born_ids.tolist() == [tid, tid + 1] and trk.next_id == tid + 2
    assert sorted(trk.view(gone + 1.0).track_id.tolist()) == [tid, tid + 1]
    assert trk.identity_history()[:, 1:3].tolist() == [[tid, 366000001], [tid, 366000001], [tid + 1, 366000002]]


def test_snapshot_restore_continues_identically() -> None:
    a = Tracker(TrackerConfig(), "surface")
    _run(a, 4)
    b = Tracker.restore(TrackerConfig(), "surface", a.snapshot())
    _run(a, 3, start=16.0)
    _run(b, 3, start=16.0)
    va, vb = a.view(30.0), b.view(30.0)
    np.testing.assert_array_equal(va.track_id, vb.track_id)
    np.testing.assert_allclose(va.x, vb.x)


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"batch\.domain"):
        Tracker(TrackerConfig(), "air").step(_batch(0.0, [[0.0, 0.0]]))
    with pytest.raises(ValueError, match="confirm_m"):
        TrackerConfig(confirm_m=5, confirm_n=3)
    with pytest.raises(ValueError, match="confirm_gate_prob"):
        TrackerConfig(confirm_gate_prob=1.0)


def test_confirmed_track_takes_a_shared_plot_before_a_tentative_one() -> None:
    # A confirmed track at the origin; a tentative track born 400 m east. The next plot,
    # 220 m east, is nearer (in Mahalanobis distance) to the wide tentative track, but the
    # confirmed track gets it: tentative tracks only see the plots left over.
    trk = Tracker(TrackerConfig(), "surface")
    for k in range(3):
        trk.step(_batch(4.0 * k, [[0.0, 0.0]]))
    trk.step(_batch(12.0, [[0.0, 0.0], [400.0, 0.0]]))
    v = trk.view(16.0)
    firm, tent = v.track_id[v.status == CONFIRMED], v.track_id[v.status == TENTATIVE]
    assert firm.size == 1 and tent.size == 1
    d2 = {}
    for tid in (firm[0], tent[0]):
        i = np.flatnonzero(v.track_id == tid)[0]
        y = np.array([220.0, 0.0]) - v.x[i, :2]
        d2[int(tid)] = float(y @ np.linalg.solve(v.P[i, :2, :2] + 50.0**2 * np.eye(2), y))
    # costs d2 / gate: one GNN over both tracks would give the plot to the tentative track
    assert d2[int(tent[0])] / 9.21 < d2[int(firm[0])] / 13.8 < 1.0
    res = trk.step(_batch(16.0, [[220.0, 0.0]]))
    v = trk.view(16.0)
    assert v.last_t[v.track_id == firm[0]][0] == 16.0
    assert v.last_t[v.track_id == tent[0]][0] == 12.0 and res.born_ids.size == 0


def test_tentative_track_gates_tighter_than_a_confirmed_one() -> None:
    # A second plot between the chi2(2) 0.99 and 0.999 quantiles of a one-plot track's
    # prediction: with confirm_gate_prob 0.99 it starts another tentative track instead of
    # confirming a track from two plots 290 m apart.
    def second_plot(cfg: TrackerConfig) -> Tracker:
        trk = Tracker(cfg, "surface")
        trk.step(_batch(0.0, [[0.0, 0.0]]))
        trk.step(_batch(4.0, [[290.0, 0.0]]))
        return trk

    v = Tracker(TrackerConfig(), "surface")
    v.step(_batch(0.0, [[0.0, 0.0]]))
    pred = v.view(4.0)
    d2 = 290.0**2 / (pred.P[0, 0, 0] + 50.0**2)
    assert 9.21 < d2 < 13.8
    tight = second_plot(TrackerConfig()).view(4.0)
    assert len(tight) == 2 and (tight.status == TENTATIVE).all()
    wide = second_plot(TrackerConfig(confirm_gate_prob=0.999)).view(4.0)
    assert len(wide) == 1 and (wide.status == CONFIRMED).all()


def test_a_site_starts_at_most_its_birth_budget_of_new_tracks() -> None:
    """A scan of 100 unassociated plots: 20 tracks (the 2 s deep budget of 10/s), then 10 a second;
    another site keeps its own budget; a re-run charges the budget as the first run did."""
    cfg = TrackerConfig(max_births_per_source_s=10.0, births_burst_s=2.0)
    trk = Tracker(cfg, "surface")
    far = [[k * 5_000.0, 0.0] for k in range(100)]  # 5 km apart: each plot its own track
    assert trk.step(_batch(0.0, far)).born_ids.size == 20
    assert trk.step(_batch(1.0, [[x, 50_000.0] for x, _ in far])).born_ids.size == 10
    other = replace(_batch(1.0, [[x, 100_000.0] for x, _ in far]), sensor_id="other")
    assert trk.step(other).born_ids.size == 20
    in_order = len(trk)
    late = replace(_batch(0.5, [[x, 150_000.0] for x, _ in far[:3]]), sensor_id="third")  # re-runs from before t=1
    trk.step(late)
    assert len(trk) == in_order + 3


def test_a_rogue_sites_random_plots_start_at_most_the_default_bound_and_the_rest_is_counted() -> None:
    """A site whose detector no longer thresholds (3,000 random plots a second in a 20 km disc, under the
    intake's per-scan plot bound): at the default budget it starts 2,000 tracks, then 20 a second;
    every plot no track took and no birth was allowed is counted as refused; a good site keeps its budget."""
    rng = np.random.default_rng(5)
    trk = Tracker(TrackerConfig(), "surface")
    first_id, unassociated = trk.next_id, 0
    for k in range(10):
        r, az = rng.uniform(500.0, 20_000.0, 3_000), rng.uniform(0.0, 2 * np.pi, 3_000)
        batch = replace(_batch(float(k), np.column_stack([r * np.sin(az), r * np.cos(az)]).tolist()), sensor_id="rogue")
        unassociated += len(batch) - trk.step(batch).assigned
    born = trk.next_id - first_id  # new ids handed out (anonymous plots: every birth a fresh id)
    assert born == 2_000 + 20 * 9
    assert trk.births_refused["radar/rogue"] == unassociated - born > 0
    good = trk.step(_batch(9.0, [[k * 5_000.0, 100_000.0] for k in range(100)]))
    assert good.born_ids.size == 100


def _coop(t: float, xy: list[list[float]], mmsi: list[int], source: list[str]) -> MeasBatch:
    """An AIS batch coalesced from the reports of several receivers (``source``, one a row)."""
    return replace(_batch(t, xy, kind="ais", mmsi=mmsi), source=np.array(source))


def test_an_impossible_report_of_a_held_identity_never_starts_a_second_track() -> None:
    """An MMSI 50 km from its track 1 s later: the track is flagged, the report refused (counted),
    not born as a second (anonymous) track of the same address; a plausible one updates."""
    trk = Tracker(TrackerConfig(), "surface")
    trk.step(_batch(0.0, [[0.0, 0.0]], kind="ais", mmsi=[366000001]))
    res = trk.step(_batch(1.0, [[50_000.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert res.identity_refused == 1 and res.spoof_ids.size == 1 and res.born_ids.size == 0
    assert len(trk) == 1
    res = trk.step(_batch(2.0, [[10.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert res.identity_refused == 0 and res.assigned == 1 and len(trk) == 1


def test_a_cooperative_source_starts_at_most_its_birth_budget_of_new_tracks() -> None:
    """A coalesced AIS batch of 100 new MMSIs from one flooding receiver and 5 from a good one: the
    flood starts its 20 (burst), then 10 a second; the good receiver all of its own; the refused
    births are counted per source."""
    cfg = TrackerConfig(max_coop_births_per_source_s=10.0, coop_births_burst=20.0)
    trk = Tracker(cfg, "surface")
    xy = [[k * 5_000.0, 0.0] for k in range(105)]
    mmsi = [366_000_000 + k for k in range(105)]
    res = trk.step(_coop(0.0, xy, mmsi, ["flood"] * 50 + ["good"] * 5 + ["flood"] * 50))
    born = set(res.born_ids.tolist())
    assert len(born) == 25 and set(trk.view(0.0).mmsi.tolist()) >= set(mmsi[50:55])
    assert trk.births_refused == {"ais/flood": 80}
    res = trk.step(_coop(1.0, [[x, 50_000.0] for x, _ in xy], [m + 1_000 for m in mmsi], ["flood"] * 105))
    assert res.born_ids.size == 10 and trk.births_refused == {"ais/flood": 175}


def _ship_history(skew: float) -> tuple[Tracker, MeasBatch, MeasBatch]:
    """A ship at 10 m/s east reported by AIS (even seconds) and a radar (odd seconds) for 10 s; then a
    radar scan at 10.05 s and an AIS report of 10.0 s (returned, not stepped yet)."""
    trk = Tracker(TrackerConfig(coop_skew_s=skew), "surface")
    for k in range(10):
        trk.step(_batch(float(k), [[10.0 * k, 0.0]], kind="ais" if k % 2 == 0 else "radar", mmsi=[366000001] if k % 2 == 0 else None))
    return trk, _batch(10.05, [[100.5, 0.0]]), _batch(10.0, [[100.0, 0.0]], kind="ais", mmsi=[366000001])


def test_a_cooperative_batch_within_coop_skew_is_fused_in_place_close_to_time_order() -> None:
    strict, radar, ais = _ship_history(0.1)
    strict.step(ais)
    strict.step(radar)
    fast, _, _ = _ship_history(0.1)
    fast.step(radar)
    res = fast.step(ais)  # 0.05 s older than the radar scan fused before it
    assert res.rerun_batches == 0 and res.assigned == 1
    assert fast.snapshot()["track.t"][0] == 10.05  # applied at the track's newer time: its clock never goes back
    # the error is at most speed x skew (10 m/s x 0.05 s) in position
    assert np.abs(fast.view(11.0).x[0, :2] - strict.view(11.0).x[0, :2]).max() <= 0.5
    assert len(fast) == len(strict) == 1


def test_beyond_coop_skew_or_from_a_radar_an_older_batch_is_re_run() -> None:
    trk, radar, ais = _ship_history(0.0)  # strict order
    trk.step(radar)
    assert trk.step(ais).rerun_batches >= 1
    trk, radar, _ = _ship_history(0.1)
    trk.step(_batch(10.3, [[103.0, 0.0]], kind="ais", mmsi=[366000001]))
    assert trk.step(radar).rerun_batches >= 1  # a radar scan older than the clock: never in place
    assert trk.step(_batch(10.1, [[101.0, 0.0]], kind="ais", mmsi=[366000001])).rerun_batches >= 1  # 0.2 s behind
    with pytest.raises(ValueError, match="coop_skew_s"):
        TrackerConfig(coop_skew_s=-0.1)


LOOK = TrackerConfig(look_margin_m=30_000.0)  # each scan (its plots' box grown by this) looks at both targets


def _lost_and_found(trk: Tracker, offset_m: float) -> tuple[int, list[int], list[int]]:
    """Target A (5 m/s east) seen for 10 scans, missed for 4 (B, 20 km north, keeps the scans coming), then seen
    again ``offset_m`` north of its path: (A's first id, ids deleted, ids of A's tracks after it returns)."""
    for k in range(10):
        trk.step(_batch(4.0 * k, [[20.0 * k, 0.0], [20.0 * k, 20_000.0]]))
    first = int(trk.view(36.0).track_id[trk.view(36.0).x[:, 1] < 10_000.0][0])
    deleted: list[int] = []
    for k in range(10, 14):
        deleted += trk.step(_batch(4.0 * k, [[20.0 * k, 20_000.0]])).deleted_ids.tolist()
    for k in range(14, 19):
        deleted += trk.step(_batch(4.0 * k, [[20.0 * k, offset_m], [20.0 * k, 20_000.0]])).deleted_ids.tolist()
    v = trk.view(72.0)
    return first, deleted, v.track_id[(v.x[:, 1] < 10_000.0) & (v.status != TENTATIVE)].tolist()


def test_a_track_lost_for_a_few_scans_is_stitched_to_its_new_track_where_it_would_be() -> None:
    first, deleted, again = _lost_and_found(Tracker(LOOK, "surface"), 0.0)
    assert first in deleted and again == [first]  # deleted after its misses, then continued under its own id
    _, _, apart = _lost_and_found(Tracker(replace(LOOK, lost_track_history=0), "surface"), 0.0)
    assert len(apart) == 1 and apart != [first]  # without stitching: a new id
    _, _, elsewhere = _lost_and_found(Tracker(LOOK, "surface"), 3_000.0)
    assert len(elsewhere) == 1 and elsewhere != [first]  # 3 km off where it would be: another target


def test_lost_tracks_survive_a_snapshot() -> None:
    trk = Tracker(LOOK, "surface")
    for k in range(10):
        trk.step(_batch(4.0 * k, [[20.0 * k, 0.0], [20.0 * k, 20_000.0]]))
    first = int(trk.view(36.0).track_id[trk.view(36.0).x[:, 1] < 10_000.0][0])
    for k in range(10, 14):
        trk.step(_batch(4.0 * k, [[20.0 * k, 20_000.0]]))
    back = Tracker.restore(LOOK, "surface", trk.snapshot())
    for k in range(14, 19):
        back.step(_batch(4.0 * k, [[20.0 * k, 0.0], [20.0 * k, 20_000.0]]))
    v = back.view(72.0)
    assert v.track_id[(v.x[:, 1] < 10_000.0) & (v.status != TENTATIVE)].tolist() == [first]
    old = {k: v for k, v in trk.snapshot().items() if not k.startswith("lost.")}  # a snapshot from before: none lost
    assert Tracker.restore(LOOK, "surface", old).snapshot()["lost.id"].max() == -1


@pytest.mark.parametrize("lost_history", [10_000, 0])
def test_a_track_that_takes_a_deleted_tracks_address_continues_its_id(lost_history: int) -> None:
    # an AIS-identified vessel's track is deleted on misses; a radar track starts 3 km off where it would be (beyond
    # the stitch's test: a departure its track could not follow) and takes its MMSI from the next report. One MMSI
    # is one vessel: the radar track continues the old id (its first time too, from the lost ring if kept)
    trk = Tracker(replace(LOOK, lost_track_history=lost_history), "surface")
    trk.step(_batch(0.0, [[0.0, 0.0]], kind="ais", mmsi=[366000001]))
    for k in range(1, 10):
        trk.step(_batch(4.0 * k, [[20.0 * k, 0.0], [20.0 * k, 20_000.0]]))
    (old,) = trk.view(36.0).track_id[trk.view(36.0).mmsi == 366000001].tolist()
    deleted: list[int] = []
    for k in range(10, 19):
        deleted += trk.step(_batch(4.0 * k, [[20.0 * k, 3_000.0 * (k >= 14)], [20.0 * k, 20_000.0]])).deleted_ids.tolist()
    v = trk.view(72.0)
    (young,) = v.track_id[(np.abs(v.x[:, 1] - 3_000.0) < 500.0) & (v.status == CONFIRMED)].tolist()
    assert old in deleted and young != old
    res = trk.step(_batch(76.0, [[380.0, 3_000.0]], kind="ais", mmsi=[366000001]))
    assert res.deleted_ids.tolist() == [young] and res.born_ids.tolist() == [old]
    v = trk.view(76.0)
    assert sorted(v.track_id.tolist()) == sorted([old, int(v.track_id[v.x[:, 1] > 10_000.0][0])])
    mine = v.track_id == old
    assert v.mmsi[mine].tolist() == [366000001] and v.first_t[mine].tolist() == [0.0 if lost_history else 56.0]
    assert trk.identity_history()[-1, 1:3].tolist() == [old, 366000001]
