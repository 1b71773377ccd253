"""Plain-metric mode: ``jisf track-scans FILE -o OUT``.

Input, JSON Lines: a header object with at least ``dt`` (s) and ``sigma`` (m), then one
``{"kind": "scan", "t": s, "detections": [[x, y], ...]}`` per scan in a flat metric
frame (other keys and kinds ignored). Output, JSON Lines, one object per scan:
``{"t": s, "tracks": [[track_id, x, y, vx, vy], ...]}`` with the confirmed (and
coasting) tracks after that scan.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import numpy as np

from fusion import cliutil
from fusion.core.arrays import (
    COASTING,
    CONFIRMED,
    NO_ICAO,
    NO_MMSI,
    FloatArray,
    MeasBatch,
)
from fusion.core.tracker import PoolConfig, Tracker, TrackerConfig

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _ScanLine(msgspec.Struct):
    """A scan line as typed decoding reads it (other fields, e.g. a generator's ``truth``, are skipped
    unparsed): about twice as fast as building the generic objects (docs/BENCHMARKS.md, "Tracker")."""

    kind: str | None = None
    t: float | None = None
    detections: list[tuple[float, float]] = msgspec.field(default_factory=list)


_scan_decoder = msgspec.json.Decoder(_ScanLine)


def scan_batch(t: float, detections: FloatArray, sigma_m: float) -> MeasBatch:
    """Detections (M, 2) m at time t s with isotropic sigma -> a radar MeasBatch (surface pool)."""
    det = np.asarray(detections, dtype=np.float64).reshape(-1, 2)
    m = det.shape[0]
    z = np.full((m, 4), np.nan)
    z[:, :2] = det
    R = np.zeros((m, 4, 4))
    R[:, 0, 0] = R[:, 1, 1] = sigma_m**2
    return MeasBatch(t=np.full(m, float(t)), z=z, R=R, has_vel=np.zeros(m, bool), alt_m=np.full(m, np.nan),
                     sigma_alt_m=np.full(m, np.nan), mmsi=np.full(m, NO_MMSI, np.int64),
                     icao24=np.full(m, NO_ICAO, np.int64), sensor_kind="radar", sensor_id="scans", domain="surface")


def parse_header(line: bytes) -> tuple[float, float]:
    """First line -> (dt s, sigma m); ValueError naming the field otherwise."""
    head = _decoder.decode(line)
    if not isinstance(head, dict):
        raise ValueError(f"line 1: header must be a JSON object, got {type(head).__name__}")
    out = []
    for name in ("dt", "sigma"):
        v = head.get(name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"line 1: header.{name} = {v!r}: must be a positive number")
        out.append(float(v))
    return out[0], out[1]


def _usual_scan(line: bytes) -> _ScanLine | None:
    """The line in the usual typed shape, or None: then the generic checks of ``iter_scans`` name what is wrong."""
    try:
        return _scan_decoder.decode(line)
    except msgspec.ValidationError:
        return None


def iter_scans(lines: Iterable[bytes]) -> Iterator[tuple[float, FloatArray]]:
    """Scan lines (after the header) -> (t, detections (M, 2)); bad lines raise ValueError naming them."""
    for no, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        scan = _usual_scan(line)
        if scan is not None:
            if scan.kind != "scan":
                continue
            if scan.t is not None and math.isfinite(scan.t):
                det = np.array(scan.detections, dtype=np.float64).reshape(-1, 2)
                if np.isfinite(det).all():
                    yield scan.t, det
                    continue
        obj = _decoder.decode(line)
        if not isinstance(obj, dict) or obj.get("kind") != "scan":
            continue
        t = obj.get("t")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise ValueError(f"line {no}: t = {t!r}: must be a finite number")
        try:
            det = np.asarray(obj.get("detections", []), dtype=np.float64).reshape(-1, 2)
        except (ValueError, TypeError) as err:
            raise ValueError(f"line {no}: detections: must be a list of [x, y] pairs ({err})") from None
        if not np.isfinite(det).all():
            raise ValueError(f"line {no}: detections: must be finite numbers")
        yield float(t), det


def confirmed_rows(tracker: Tracker, t: float) -> list[list[float]]:
    """[[track_id, x, y, vx, vy], ...] of the confirmed and coasting tracks at t."""
    v = tracker.view(t)
    keep = (v.status == CONFIRMED) | (v.status == COASTING)
    rows = np.column_stack([v.track_id[keep].astype(np.float64), v.x[keep]])
    return [[int(r[0]), *r[1:]] for r in rows.tolist()]


PLAIN_POOL = PoolConfig(q_mps2=(0.05,), sojourn_s=(1.0,), mu0=(1.0,))
"""Plain-metric targets move at constant velocity: a single CV model (the IMM of r = 1)."""


def plain_config() -> TrackerConfig:
    """Tracker settings for the plain-metric mode: one sensor covering the whole frame, so
    every scan is a look at every track (an unbounded look margin)."""
    return TrackerConfig(look_margin_m=math.inf, surface=PLAIN_POOL)


def run_track_scans(in_path: Path, out_path: Path, config: TrackerConfig | None = None) -> dict:
    """Track every scan of ``in_path`` and write the confirmed tracks per scan to ``out_path``.

    Returns stats: scans, detections, seconds (tracker only), detections_per_s, tracks_out.
    """
    with open(in_path, "rb") as fin, open(out_path, "wb") as fout:
        first = fin.readline()
        if not first.strip():
            raise ValueError(f"{in_path}: empty file, expected a header line")
        _, sigma = parse_header(first)
        tracker = Tracker(config if config is not None else plain_config(), "surface")
        scans = dets = rows_out = 0
        busy = 0.0
        for t, det in iter_scans(fin):
            t0 = time.perf_counter()
            tracker.step(scan_batch(t, det, sigma))
            tracker.advance(t)
            rows = confirmed_rows(tracker, t)
            busy += time.perf_counter() - t0
            fout.write(_encoder.encode({"t": t, "tracks": rows}) + b"\n")
            scans += 1
            dets += det.shape[0]
            rows_out += len(rows)
    return {"scans": scans, "detections": dets, "seconds": busy,
            "detections_per_s": dets / busy if busy > 0 else 0.0, "tracks_out": rows_out}


def build_parser() -> argparse.ArgumentParser:
    """Options of ``jisf track-scans``."""
    ap = cliutil.parser("track-scans", "Track scans of a plain-metric JSON Lines file.")
    ap.add_argument("file", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--association", choices=("gnn", "jpda"), default="gnn",
                    help="confirmed tracks by GNN (default) or JPDA (docs/TRACKER.md, 'JPDA and the track score')")
    ap.add_argument("--confirmation", choices=("m_of_n", "score"), default="m_of_n",
                    help="tentative tracks confirmed by 2-of-3 (default) or by their score against the clutter "
                         "density (dense traffic: docs/BENCHMARKS.md)")
    return ap


def main(argv: list[str]) -> int:
    """``track-scans FILE -o OUT``: returns a process exit code (1: unreadable or bad scans file)."""

    def body(args: argparse.Namespace) -> int:
        config = dataclasses.replace(plain_config(), association=args.association, confirmation=args.confirmation)
        print(_encoder.encode(run_track_scans(args.file, args.out, config)).decode())
        return 0

    return cliutil.run(build_parser(), body, argv)
