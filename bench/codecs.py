"""Decode cost per plot / sentence / aircraft for each codec, and the ingest path per radar
scan and per AIS message before and after its vectorisation; prints one JSON object.

Run: ``python bench/codecs.py [--repeat 7]``. Each figure is the median over
``repeat`` timed rounds of the per-item cost, in microseconds.

"before" is the pre-vectorisation path, still in the code as the reference:
``RadarDecoder(fast=False)`` (RadarScan records) + ``tests.unit.sensors.radar_v0.radar_batch_v0``
(per-plot conversion, pymap3d, finite-difference Jacobian) and ``AisDecoder(fast=False)``
(pyais for every sentence). "after" is what ingest runs: ``RadarDecoder().decode_arrays``
+ ``radar_batch`` and ``AisDecoder()``. Before and after are timed alternately in one run,
so that their ratio is fair on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable

import numpy as np

from fusion.core.frame import LocalFrame
from fusion.ingest import Ingest
from sensors import adsb, ais, oth, radar
from sensors.codec import KNOT_MPS
from sensors.measurement import MeasurementNoise, radar_batch
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarPlot, RadarScan
from tests.unit.sensors.radar_v0 import radar_batch_v0

T0 = 1_700_000_000.0


def _per_item_us(run: Callable[[], object], items: int, rounds: int, repeat: int) -> float:
    """Median over ``repeat`` of (time of ``rounds`` calls) / (rounds * items), microseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rounds):
            run()
        samples.append((time.perf_counter() - start) / (rounds * items) * 1e6)
    return statistics.median(samples)


def _pair_us(before: Callable[[], object], after: Callable[[], object], items: int, rounds: int,
             repeat: int) -> tuple[float, float]:
    """(before, after) per item in us, the two timed alternately round by round."""
    b, a = [], []
    for _ in range(repeat):
        b.append(_per_item_us(before, items, rounds, 1))
        a.append(_per_item_us(after, items, rounds, 1))
    return statistics.median(b), statistics.median(a)


# The live benchmark's load (bench/live.py): a coastal radar in the default scenario's area
# reporting 1,000 targets 3-20 km out, and aggregator messages of 2 tagged position sentences.
FRAME = LocalFrame(9.0, 10.3, -79.8, -77.9)


def live_scan(rng: np.random.Generator, plots: int = 1000) -> bytes:
    r = rng.uniform(3_000.0, 20_000.0, plots)
    az = rng.uniform(0.0, 360.0, plots)
    return radar.encode(RadarScan(
        site="bench0", t=T0, sensor_lat=9.3, sensor_lon=-79.6, sensor_alt_m=30.0, sigma_range_m=30.0,
        sigma_az_deg=0.2, scan_id=1, max_range_m=20_000.0,
        plots=[RadarPlot(range_m=float(a), az_deg=float(b), snr_db=15.0) for a, b in zip(r, az, strict=True)]))


def live_ais(i: int) -> bytes:
    reps = [AisPosition(t=T0, source="benchagg", mmsi=300_000_000 + j, lat=9.1 + 1.1 * (j % 97) / 97,
                        lon=-79.7 + 1.7 * (j // 97 % 97) / 97, sog_mps=5.0, cog_deg=90.0)
            for j in (2 * i, 2 * i + 1)]
    return ais.encode_payload(reps)


def ingest_figures(repeat: int) -> dict[str, float]:
    """Per 1,000-plot scan and per AIS message: before/after of decode, conversion, both, and ingest."""
    noise = MeasurementNoise()
    scans = [live_scan(np.random.default_rng(k)) for k in range(10)]
    fast, general = radar.RadarDecoder(), radar.RadarDecoder(fast=False)
    records = [general.decode(p, "bench0", T0)[0][0] for p in scans]
    arrays = [fast.decode_arrays(p, "bench0", T0)[0][0] for p in scans]
    radar_batch(arrays[0], FRAME, noise)  # the frame's Jacobian constants, once
    n = len(scans)
    out: dict[str, float] = {}
    out["radar_1000_decode_us_per_scan_before"], out["radar_1000_decode_us_per_scan_after"] = _pair_us(
        lambda: [general.decode(p, "bench0", T0) for p in scans],
        lambda: [fast.decode_arrays(p, "bench0", T0) for p in scans], n, 5, repeat)
    out["radar_1000_convert_us_per_scan_before"], out["radar_1000_convert_us_per_scan_after"] = _pair_us(
        lambda: [radar_batch_v0(s, FRAME, noise) for s in records],
        lambda: [radar_batch(s, FRAME, noise) for s in arrays], n, 3, repeat)
    out["radar_1000_decode_convert_us_per_scan_before"], out["radar_1000_decode_convert_us_per_scan_after"] = _pair_us(
        lambda: [radar_batch_v0(general.decode(p, "bench0", T0)[0][0], FRAME, noise) for p in scans],
        lambda: [radar_batch(fast.decode_arrays(p, "bench0", T0)[0][0], FRAME, noise) for p in scans], n, 3, repeat)
    ingest = Ingest(FRAME)

    def accept_scans() -> None:
        for p in scans:
            if not ingest.accept("jisf/v1/feeds/radar/bench0", p, T0):
                raise RuntimeError("scan not accepted")
        ingest._queue.clear()  # noqa: SLF001 - keep the buffer from growing between rounds
        ingest._seen.clear()  # noqa: SLF001 - the same payloads again are not duplicates here

    out["radar_1000_ingest_accept_us_per_scan_after"] = _per_item_us(accept_scans, n, 3, repeat)
    messages = [live_ais(i) for i in range(200)]
    fast_ais, general_ais = ais.AisDecoder(), ais.AisDecoder(fast=False)
    out["ais_decode_us_per_message_2_sentences_before"], out["ais_decode_us_per_message_2_sentences_after"] = _pair_us(
        lambda: [general_ais.decode(p, "benchagg", T0) for p in messages],
        lambda: [fast_ais.decode(p, "benchagg", T0) for p in messages], len(messages), 5, repeat)

    def accept_ais() -> None:
        for p in messages:
            if not ingest.accept("jisf/v1/feeds/ais/benchagg", p, T0):
                raise RuntimeError("AIS message not accepted")
        ingest._queue.clear()  # noqa: SLF001
        ingest._seen.clear()  # noqa: SLF001

    out["ais_ingest_accept_us_per_message_2_sentences_after"] = _per_item_us(accept_ais, len(messages), 5, repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    rng = random.Random(1)

    scan = RadarScan(
        site="s1", t=T0, sensor_lat=18.0, sensor_lon=-66.0, sensor_alt_m=60.0,
        sigma_range_m=30.0, sigma_az_deg=0.2,
        plots=[RadarPlot(range_m=rng.uniform(0, 1e5), az_deg=rng.uniform(0, 360),
                         snr_db=rng.uniform(5, 30)) for _ in range(100)],
    )
    scan_payload = radar.encode(scan)
    radar_decoder = radar.RadarDecoder()

    positions = [
        AisPosition(t=T0 - rng.uniform(0, 10), source="rx", mmsi=200_000_000 + i,
                    lat=rng.uniform(-30, 30), lon=rng.uniform(-90, -60), sog_mps=12 * KNOT_MPS,
                    cog_deg=float(rng.randrange(360)), heading_deg=float(rng.randrange(360)),
                    msg_type=(1, 18)[i % 2])
        for i in range(100)
    ]
    ais_batch = ais.encode_payload(positions)
    ais_single = ais.encode(positions[0])[0].encode()
    ais_decoder = ais.AisDecoder()

    aircraft = [
        AdsbReport(t=T0 - 0.5, source="rx", icao24=0xA00000 + i, lat=rng.uniform(10, 20),
                   lon=rng.uniform(-80, -60), alt_m=9000.0, gs_mps=230.0, track_deg=90.0,
                   vrate_mps=0.0, nac_p=9, callsign=f"N{i}")
        for i in range(100)
    ]
    aircraft_json = adsb.encode_aircraft_json(T0, aircraft)
    sbs = adsb.encode_sbs(aircraft)
    adsb_decoder = adsb.AdsbDecoder()
    fix_payload = oth.encode(OthFix(site="o1", t=T0, lat=12.0, lon=-78.0,
                                    cov_en_m2=((2e8, 1e7), (1e7, 1e8))))
    oth_decoder = oth.OthDecoder()

    general_ais = ais.AisDecoder(fast=False)
    figures = {
        **ingest_figures(repeat),
        "ais_decode_us_per_sentence_100_per_payload_before": _per_item_us(
            lambda: general_ais.decode(ais_batch, "rx", T0), 100, 20, repeat),
        "radar_decode_us_per_plot_100_plot_scan": _per_item_us(
            lambda: radar_decoder.decode(scan_payload, "s1", T0), 100, 200, repeat),
        "radar_encode_us_per_plot_100_plot_scan": _per_item_us(
            lambda: radar.encode(scan), 100, 200, repeat),
        "ais_decode_us_per_sentence_100_per_payload": _per_item_us(
            lambda: ais_decoder.decode(ais_batch, "rx", T0), 100, 20, repeat),
        "ais_decode_us_per_sentence_1_per_payload": _per_item_us(
            lambda: ais_decoder.decode(ais_single, "rx", T0), 1, 2000, repeat),
        "ais_encode_us_per_position": _per_item_us(
            lambda: ais.encode(positions[0]), 1, 2000, repeat),
        "adsb_json_decode_us_per_aircraft_100_per_payload": _per_item_us(
            lambda: adsb_decoder.decode(aircraft_json, "rx", T0), 100, 50, repeat),
        "adsb_sbs_decode_us_per_aircraft_100_per_payload": _per_item_us(
            lambda: adsb_decoder.decode(sbs, "rx", T0), 100, 20, repeat),
        "oth_decode_us_per_fix": _per_item_us(
            lambda: oth_decoder.decode(fix_payload, "o1", T0), 1, 5000, repeat),
    }
    print(json.dumps({
        "bench": "codecs",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeat": repeat,
        "radar_scan_bytes_100_plots": len(scan_payload),
        "ais_payload_bytes_100_sentences": len(ais_batch),
        **{name: round(value, 3) for name, value in figures.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
