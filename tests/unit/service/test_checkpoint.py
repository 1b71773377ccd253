"""fusion.checkpoint: a restored Fusion continues exactly like the one that was saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusion.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fusion.core.frame import LocalFrame
from fusion.offline import fusion_for_area
from fusion.pipeline import Fusion, FusionConfig
from fusion.publish import encode
from sensors.radar import encode as encode_scan
from sensors.reports import RadarPlot, RadarScan

AREA = LocalFrame(9.0, 10.3, -79.8, -77.9)  # anything with lat_min, lat_max, lon_min, lon_max
ZONES = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "corridor", "kind": "transit_corridor"},
         "geometry": {"type": "Polygon", "coordinates": [[[-79.5, 9.2], [-78.2, 9.2], [-78.2, 10.1], [-79.5, 10.1], [-79.5, 9.2]]]}}]}
T0 = 1_700_000_000.0
RADAR = dict(site="s1", sensor_lat=9.6, sensor_lon=-78.9, sensor_alt_m=40.0, sigma_range_m=25.0, sigma_az_deg=0.15)


def make_fusion(area: LocalFrame = AREA) -> Fusion:
    return fusion_for_area(area, ZONES, "test", None, FusionConfig(output_interval_s=2.0, reorder_window_s=0.5))


def scans(n: int, start: int) -> list[tuple[float, str, bytes]]:
    """Radar scans every 2 s of four boats (two fast) plus clutter, seeded per scan."""
    out = []
    for k in range(start, start + n):
        t = T0 + 2.0 * k
        rng = np.random.default_rng(k)
        rngs = np.array([12_000.0, 20_000.0, 30_000.0, 41_000.0]) + np.array([5.0, -8.0, 20.0, 1.0]) * 2.0 * k
        az = np.array([30.0, 100.0, 200.0, 300.0]) + rng.normal(0, 0.1, 4)
        rngs = np.concatenate([rngs + rng.normal(0, 20, 4), rng.uniform(5_000, 50_000, 3)])
        az = np.concatenate([az, rng.uniform(0, 360, 3)])
        scan = RadarScan(**RADAR, t=t, scan_id=k, plots=[RadarPlot(range_m=float(r), az_deg=float(a), snr_db=15.0) for r, a in zip(rngs, az, strict=True)])
        out.append((t + 0.3, "jisf/v1/feeds/radar/s1", encode_scan(scan)))
    return out


def run(fusion: Fusion, messages: list[tuple[float, str, bytes]]) -> list[bytes]:
    """Drive like the live service (accept, then advance to the receive time); the ticks as bytes."""
    ticks = []
    for recv_t, topic, payload in messages:
        fusion.accept(topic, payload, recv_t)
        ticks.extend(encode([tick.rows, tick.alerts, tick.deleted_ids]) for tick in fusion.advance(recv_t))
    return ticks


def test_restored_fusion_continues_identically(tmp_path: Path) -> None:
    first, second = scans(40, 0), scans(40, 40)
    a = make_fusion()
    run(a, first)
    size = save_checkpoint(tmp_path / "f.ckpt", a, {"published_tracks": [["surface", 3]]})
    assert size > 0 and not (tmp_path / "f.ckpt.tmp").exists()
    b = make_fusion()
    extra = load_checkpoint(tmp_path / "f.ckpt", b)
    assert extra["published_tracks"] == [["surface", 3]]
    assert b.counters == a.counters
    live_a = run(a, second)
    live_b = run(b, second)
    assert live_a == live_b
    assert sum(len(t.view(T0 + 160.0)) for t in b.trackers.values()) >= 4
    # a replayed message from before the checkpoint is still recognised as a duplicate
    before = b.ingest.log.total_rejected("radar")
    b.accept(first[-1][1], first[-1][2], first[-1][0] + 1.0)
    assert b.ingest.log.total_rejected("radar") == before + 1


def test_checkpoint_of_another_area_is_refused(tmp_path: Path) -> None:
    a = make_fusion()
    run(a, scans(3, 0))
    save_checkpoint(tmp_path / "f.ckpt", a)
    other = make_fusion(LocalFrame(10.0, 12.0, -80.0, -78.0))
    with pytest.raises(CheckpointError, match=r"f.ckpt: area = \[9.0, 10.3, -79.8, -77.9\]: the service runs area"):
        load_checkpoint(tmp_path / "f.ckpt", other)


def test_torn_checkpoint_is_refused(tmp_path: Path) -> None:
    a = make_fusion()
    run(a, scans(3, 0))
    save_checkpoint(tmp_path / "f.ckpt", a)
    data = (tmp_path / "f.ckpt").read_bytes()
    (tmp_path / "f.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"f\.ckpt: unreadable"):
        load_checkpoint(tmp_path / "f.ckpt", make_fusion())
