"""Decode cost per plot / sentence / aircraft for each codec; prints one JSON object.

Run: ``python bench/codecs.py [--repeat 7]``. Each figure is the median over
``repeat`` timed rounds of the per-item cost, in microseconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable

from sensors import adsb, ais, oth, radar
from sensors.codec import KNOT_MPS
from sensors.reports import AdsbReport, AisPosition, OthFix, RadarPlot, RadarScan

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

    figures = {
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
