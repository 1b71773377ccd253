"""Reading a run's JSON Lines files into columns, and writing the scores.

truth.jsonl, tracks.jsonl and alerts.jsonl (DESIGN.md formats) are decoded with msgspec, in
parallel byte ranges (forked processes) when large, into column dataclasses whose hashable
values (ids, domains, statuses, rules) are small int codes of a shared ``Codebook``.
metrics.json (sorted keys) and metrics_series.jsonl are written by ``write_outputs``.
Axis letters: R truth rows, E track rows, A alert rows.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing as mp
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import numpy as np
from numpy.typing import NDArray

from fusion.core.arrays import NO_ICAO, NO_MMSI

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TRUTH_FILE, TRACKS_FILE, ALERTS_FILE = "truth.jsonl", "tracks.jsonl", "alerts.jsonl"
METRICS_FILE, SERIES_FILE, OUTCOMES_FILE = "metrics.json", "metrics_series.jsonl", "alert_outcomes.jsonl"
_CHUNK_BYTES = 32 << 20
DIGITS = 6  # metrics.json rounding: stable across machines' last-bit differences



class _TruthLine(msgspec.Struct, gc=False):
    t: float
    id: int | str
    domain: str
    lat: float
    lon: float
    role: str
    speed_mps: float | None = None
    course_deg: float | None = None
    activity: str | None = None


class _TrackLine(msgspec.Struct, gc=False):
    t: float
    track_id: int
    domain: str
    status: str
    lat: float
    lon: float
    vel_e_mps: float | None = None
    vel_n_mps: float | None = None
    cov_en_m2: tuple[tuple[float, float], tuple[float, float]] | None = None
    mmsi: int | None = None
    icao24: str | int | None = None


class _AlertEvidence(msgspec.Struct, gc=False):
    acq_t: float | None = None  # a satellite detection's acquisition time (dark_detection)
    strength: float | None = None
    condition_s: float | None = None


class _AlertLine(msgspec.Struct, gc=False):
    t: float
    alert_id: int | str
    rule: str
    state: str
    track_id: int
    lat: float | None = None
    lon: float | None = None
    evidence: _AlertEvidence = msgspec.field(default_factory=_AlertEvidence)
    priority: float | None = None
    mmsi: int | None = None
    icao24: str | None = None
    score: float | None = None  # the calibrated score (fusion.rules.calibration); absent in runs before it


class Codebook:
    """Maps hashable values (ids, domain names, rules) to small ints in first-seen order."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def codes(self, values: Sequence[Any]) -> IntArray:
        """(R,) values -> (R,) int64 codes, adding unseen values."""
        index = self.index
        for value in dict.fromkeys(values):  # distinct values in first-seen order
            index.setdefault(value, len(index))
        return np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))

    @property
    def values(self) -> list[Any]:
        """Values in code order."""
        return list(self.index)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: decoding millions of rows (their tuples are GC-tracked) otherwise
    triggers collections over an ever-growing heap; the rows hold no cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class _Layout:
    """What one JSON Lines file contributes: float columns, 2x2 matrix columns, coded columns."""

    line_type: type[msgspec.Struct]
    floats: tuple[str, ...]
    matrices: tuple[str, ...]
    coded: tuple[str, ...]  # hashable values (ids, names) turned into Codebook codes


_TRUTH = _Layout(_TruthLine, ("t", "lat", "lon", "speed_mps", "course_deg"), (), ("id", "domain", "role", "activity"))
_TRACKS = _Layout(_TrackLine, ("t", "lat", "lon", "vel_e_mps", "vel_n_mps"), ("cov_en_m2",),
                  ("track_id", "domain", "status", "mmsi", "icao24"))
_ALERTS = _Layout(_AlertLine, ("t", "lat", "lon", "evidence.acq_t", "evidence.strength", "evidence.condition_s", "priority",
                                "score", "mmsi"), (), ("alert_id", "rule", "state", "track_id", "icao24"))


@dataclass(frozen=True)
class _Part:
    """One decoded byte range of a file: columns, with codes local to the part."""

    floats: FloatArray  # (R, len(layout.floats))
    matrices: dict[str, FloatArray]  # (R, 2, 2) each
    codes: dict[str, IntArray]  # (R,) each, indexing values[name]
    values: dict[str, list[Any]]


def _part_bounds(path: Path) -> list[int]:
    """Byte offsets cutting the file into parts of about _CHUNK_BYTES, each ending at a newline."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as f:
        while bounds[-1] + _CHUNK_BYTES < size:
            f.seek(bounds[-1] + _CHUNK_BYTES)
            f.readline()
            bounds.append(f.tell())
    bounds.append(size)
    return bounds


def _decode_part(path: Path, start: int, end: int, layout: _Layout) -> _Part:
    """Decode bytes [start, end) of a JSON Lines file (whole lines) into columns."""
    with path.open("rb") as f:
        f.seek(start)
        data = f.read(end - start)
    decoder = msgspec.json.Decoder(layout.line_type)
    with _gc_paused():
        try:
            rows = decoder.decode_lines(data)
        except msgspec.DecodeError:
            _raise_line_error(path, data, start, decoder)
        books = {name: Codebook() for name in layout.coded}
        return _Part(
            floats=_numbers(rows, *layout.floats),
            matrices={name: _matrices(rows, name) for name in layout.matrices},
            codes={name: books[name].codes(list(map(attrgetter(name), rows))) for name in layout.coded},
            values={name: book.values for name, book in books.items()},
        )


def _raise_line_error(path: Path, data: bytes, start: int, decoder: msgspec.json.Decoder[Any]) -> NoReturn:
    """Find the first bad line of a part and raise an error naming the file and line number."""
    with path.open("rb") as f:
        line_number = 1 + f.read(start).count(b"\n")
    for number, line in enumerate(data.split(b"\n"), start=line_number):
        if line.strip():
            try:
                decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from None
    raise ValueError(f"{path.name}: undecodable lines after byte {start}")


def _read_table(path: Path, layout: _Layout, books: Mapping[str, Codebook], workers: int | None
                ) -> tuple[FloatArray, dict[str, FloatArray], dict[str, IntArray]]:
    """Decode a whole file, in parallel parts when it is large: (R, F) floats, matrices, codes into ``books``."""
    bounds = _part_bounds(path)
    n_parts = len(bounds) - 1
    # worker processes are forked (Linux): no re-import of __main__, nothing to pickle but the results
    can_fork = sys.platform == "linux" and "fork" in mp.get_all_start_methods()
    workers = min(workers or (len(os.sched_getaffinity(0)) if can_fork else 1), n_parts)
    args = (repeat(path), bounds[:-1], bounds[1:], repeat(layout))
    floats: list[FloatArray] = []
    matrices: dict[str, list[FloatArray]] = {name: [] for name in layout.matrices}
    codes: dict[str, list[IntArray]] = {name: [] for name in layout.coded}
    with ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")))
            parts: Iterator[_Part] = pool.map(_decode_part, *args)
        else:
            parts = map(_decode_part, *args)
        for part in parts:  # in file order, so codes are assigned in first-seen order
            floats.append(part.floats)
            for name in layout.matrices:
                matrices[name].append(part.matrices[name])
            for name in layout.coded:
                codes[name].append(books[name].codes(part.values[name])[part.codes[name]])
    return (_concat(floats, np.float64, (len(layout.floats),)),
            {name: _concat(v, np.float64, (2, 2)) for name, v in matrices.items()},
            {name: _concat(v, np.int64) for name, v in codes.items()})


def _numbers(rows: Sequence[Any], *names: str) -> FloatArray:
    """(R, len(names)) float64 from the rows' attributes; JSON null becomes NaN."""
    out = np.empty((len(rows), len(names)), dtype=np.float64)
    for k, name in enumerate(names):
        try:
            out[:, k] = np.fromiter(map(attrgetter(name), rows), dtype=np.float64, count=len(rows))
        except TypeError:  # a null in this column: numpy's list conversion maps None to NaN
            out[:, k] = np.array(list(map(attrgetter(name), rows)), dtype=np.float64)
    return out


def _matrices(rows: Sequence[Any], name: str) -> FloatArray:
    """(R, 2, 2) from a 2x2 attribute; a null matrix becomes NaN."""
    values = list(map(attrgetter(name), rows))
    try:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(values)), dtype=np.float64, count=4 * len(rows))
    except TypeError:
        nan = ((math.nan, math.nan), (math.nan, math.nan))
        flat = np.array([nan if v is None else v for v in values], dtype=np.float64)
    return flat.reshape(len(rows), 2, 2)


@dataclass(frozen=True)
class TruthColumns:
    """truth.jsonl as columns. (R,) each; ``obj``/``domain`` index ``ids``/``domains``."""

    t: FloatArray
    obj: IntArray
    domain: IntArray
    lat: FloatArray
    lon: FloatArray
    vel_e_mps: FloatArray  # NaN where speed or course is absent
    vel_n_mps: FloatArray
    suspect: BoolArray
    ids: list[Any]
    activity: IntArray | None = None  # (R,) index into ``activities``; None when not read
    activities: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TrackColumns:
    """tracks.jsonl as columns. (E,) each; ``track`` indexes ``track_ids``; cov NaN where absent."""

    t: FloatArray
    track: IntArray
    domain: IntArray
    status: IntArray
    lat: FloatArray
    lon: FloatArray
    vel_e_mps: FloatArray
    vel_n_mps: FloatArray
    cov_en_m2: FloatArray  # (E, 2, 2)
    mmsi: IntArray  # NO_MMSI where none
    icao24: IntArray  # NO_ICAO where none
    track_ids: list[int]
    statuses: list[str]


@dataclass(frozen=True)
class AlertColumns:
    """alerts.jsonl as columns, (A,) each; ``rule``/``alert`` index ``rules``/``alert_ids``."""

    t: FloatArray
    alert: IntArray
    rule: IntArray
    raised: BoolArray
    cleared: BoolArray
    track_id: IntArray
    lat: FloatArray
    lon: FloatArray
    rules: list[str]
    alert_ids: list[Any]
    acq_t: FloatArray | None = None  # (A,) satellite detection acquisition time, NaN for track alerts
    strength: FloatArray | None = None  # (A,) evidence strength, NaN where absent (cleared events)
    condition_s: FloatArray | None = None  # (A,) seconds the condition held, NaN where absent
    priority: FloatArray | None = None  # (A,) NaN where absent
    score: FloatArray | None = None  # (A,) calibrated score, NaN where absent (cleared events, older runs)
    identified: BoolArray | None = None  # (A,) the event carries an MMSI or an ICAO address


def _concat(parts: list[NDArray[Any]], dtype: type, tail: tuple[int, ...] = ()) -> NDArray[Any]:
    return np.concatenate(parts) if parts else np.zeros((0, *tail), dtype=dtype)


def read_truth(path: Path, domains: Codebook, *, workers: int | None = None) -> TruthColumns:
    """Read truth.jsonl; ``domains`` is shared with the tracks so codes agree."""
    books = {"id": Codebook(), "domain": domains, "role": Codebook(), "activity": Codebook()}
    x, _, codes = _read_table(path, _TRUTH, books, workers)
    course = np.radians(x[:, 4])
    return TruthColumns(x[:, 0], codes["id"], codes["domain"], x[:, 1], x[:, 2], x[:, 3] * np.sin(course),
                        x[:, 3] * np.cos(course), codes["role"] == books["role"].index.get("suspect", -1),
                        books["id"].values, codes["activity"], books["activity"].values)


def _icao_int(value: str | int | None) -> int:
    if value is None:
        return NO_ICAO
    return value if isinstance(value, int) else int(value, 16)


def read_tracks(path: Path, domains: Codebook, *, workers: int | None = None) -> TrackColumns:
    """Read tracks.jsonl (all statuses)."""
    books = {"track_id": Codebook(), "domain": domains, "status": Codebook(), "mmsi": Codebook(), "icao24": Codebook()}
    x, mats, codes = _read_table(path, _TRACKS, books, workers)
    mmsi_of = np.array([NO_MMSI if v is None else v for v in books["mmsi"].values], dtype=np.int64)
    icao_of = np.array([_icao_int(v) for v in books["icao24"].values], dtype=np.int64)
    return TrackColumns(x[:, 0], codes["track_id"], codes["domain"], codes["status"], x[:, 1], x[:, 2], x[:, 3], x[:, 4],
                        mats["cov_en_m2"], mmsi_of[codes["mmsi"]], icao_of[codes["icao24"]], books["track_id"].values,
                        books["status"].values)


def read_alerts(path: Path) -> AlertColumns:
    """Read alerts.jsonl; a missing file means no alerts."""
    books = {name: Codebook() for name in _ALERTS.coded}
    if path.exists():
        x, _, codes = _read_table(path, _ALERTS, books, 1)
    else:
        x, codes = np.zeros((0, len(_ALERTS.floats))), {name: np.zeros(0, dtype=np.int64) for name in _ALERTS.coded}
    track_ids = np.array(books["track_id"].values, dtype=np.int64)
    return AlertColumns(
        t=x[:, 0],
        alert=codes["alert_id"],
        rule=codes["rule"],
        raised=codes["state"] == books["state"].index.get("raised", -1),
        cleared=codes["state"] == books["state"].index.get("cleared", -1),
        track_id=track_ids[codes["track_id"]] if track_ids.size else np.zeros(0, dtype=np.int64),
        lat=x[:, 1],
        lon=x[:, 2],
        rules=books["rule"].values,
        alert_ids=books["alert_id"].values,
        acq_t=x[:, 3],
        strength=x[:, 4],
        condition_s=x[:, 5],
        priority=x[:, 6],
        score=x[:, 7],
        identified=np.isfinite(x[:, 8]) | (codes["icao24"] != books["icao24"].index.get(None, -1)),
    )



def write_outputs(dir: Path, metrics: dict[str, Any], series: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
    """Write metrics.json (sorted keys), metrics_series.jsonl and alert_outcomes.jsonl into ``dir``."""
    (dir / METRICS_FILE).write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n")
    for name, rows in ((SERIES_FILE, series), (OUTCOMES_FILE, outcomes)):
        with (dir / name).open("w") as f:
            f.writelines(json.dumps(row, sort_keys=True) + "\n" for row in rows)
