"""Scoring a run against its truth: GOSPA/OSPA, continuity, RMSE, NEES and alert scores.

Reads truth.jsonl, tracks.jsonl and alerts.jsonl (DESIGN.md formats), writes metrics.json
(sorted keys) and metrics_series.jsonl (one row per truth tick and domain). Every metric,
its parameters and the matching rules are documented in docs/EVALUATION.md.

Matching in one paragraph: the evaluation grid is the set of truth ticks. At each tick the
tracks come from the nearest track output tick within half an output interval, moved to
the truth tick along their own velocity. Distances are true metres in a local conformal
frame built from the data's bounds. Per tick and domain, truth objects and tracks
(not tentative) are matched by the GOSPA assignment (alpha = 2, cut-off c per domain):
pairs closer than c, minimising the sum of d^p plus c^p/2 per unmatched object or track.
Every other metric uses that one assignment.

Axis letters: R truth rows, E track rows at evaluation ticks, K candidate pairs,
T evaluation ticks, O truth objects.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing as mp
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fusion.core.arrays import NO_ICAO, NO_MMSI
from fusion.core.frame import LocalFrame

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

TRUTH_FILE, TRACKS_FILE, ALERTS_FILE = "truth.jsonl", "tracks.jsonl", "alerts.jsonl"
METRICS_FILE, SERIES_FILE = "metrics.json", "metrics_series.jsonl"
NEES_95 = 5.991464547107979  # chi-square 95 % quantile, 2 degrees of freedom
_CHUNK_BYTES = 32 << 20
_DIGITS = 6  # metrics.json rounding: stable across machines' last-bit differences


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """Scoring parameters (docs/EVALUATION.md).

    p:          GOSPA/OSPA order (p >= 1); 2 makes the localisation part a sum of squared errors.
    alpha:      GOSPA alpha; only 2 is accepted, the value for which GOSPA splits into
                localisation, missed and false parts.
    cutoff_m:   GOSPA/OSPA cut-off c per domain, true metres; also the matching radius.
    statuses:   track statuses scored (tentative tracks are not shown to operators).
    """

    p: float = 2.0
    alpha: float = 2.0
    cutoff_m: Mapping[str, float] = field(default_factory=lambda: {"surface": 1000.0, "air": 3000.0})
    statuses: tuple[str, ...] = ("confirmed", "coasting")

    def __post_init__(self) -> None:
        if not (self.p >= 1.0 and math.isfinite(self.p)):
            raise ValueError(f"MetricsConfig.p = {self.p!r}: must be finite and >= 1")
        if self.alpha != 2.0:
            raise ValueError(f"MetricsConfig.alpha = {self.alpha!r}: only 2 is supported (the decomposable GOSPA)")
        for domain, c in self.cutoff_m.items():
            if not (c > 0.0 and math.isfinite(c)):
                raise ValueError(f"MetricsConfig.cutoff_m[{domain!r}] = {c!r}: must be finite and > 0")

    def cutoff(self, domain: str, source: str) -> float:
        """The cut-off for ``domain``; a domain with none configured is an input error."""
        if domain not in self.cutoff_m:
            raise ValueError(f"{source}: domain = {domain!r}: no GOSPA cut-off configured (known: {sorted(self.cutoff_m)})")
        return float(self.cutoff_m[domain])


# --------------------------------------------------------------------------- reading


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


class _AlertLine(msgspec.Struct, gc=False):
    t: float
    alert_id: int | str
    rule: str
    state: str
    track_id: int
    lat: float | None = None
    lon: float | None = None
    evidence: _AlertEvidence = msgspec.field(default_factory=_AlertEvidence)


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
_ALERTS = _Layout(_AlertLine, ("t", "lat", "lon", "evidence.acq_t"), (), ("alert_id", "rule", "state", "track_id"))
DETECTION_MATCH_M = 3000.0
"""An alert about a satellite detection (no track; ``evidence.acq_t``) is about the truth object
nearest its position at the acquisition time, if within this distance (docs/EVALUATION.md)."""


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
    )


# --------------------------------------------------------------------------- assignment


def expand_ranges(starts: IntArray, counts: IntArray) -> tuple[IntArray, IntArray]:
    """Ranges [starts[i], starts[i] + counts[i]) concatenated -> (owner i, index), each (sum counts,)."""
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    offsets = np.arange(owner.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, starts[owner] + offsets


def _rank_within(group: IntArray, node: IntArray) -> IntArray:
    """(K,) index of each node among the distinct nodes of its group (groups contiguous) -> (K,)."""
    width = int(node.max()) + 1
    keys, inverse = np.unique(group.astype(np.int64) * width + node, return_inverse=True)
    key_group = keys // width
    first_of_group = np.searchsorted(key_group, key_group, side="left")
    return inverse - first_of_group[inverse]


def assign_sparse(rows: IntArray, cols: IntArray, cost: FloatArray) -> BoolArray:
    """Minimum-cost partial assignment on a sparse bipartite graph.

    rows, cols: (K,) node ids of the candidate pairs, non-negative ints (the graph has
    max + 1 nodes per side, so keep them compact); cost: (K,) < 0 (the gain of pairing over
    leaving both unmatched). Returns (K,) bool: the chosen pairs, at most one per row node
    and per column node, minimising the summed cost. Solved per connected cluster: a
    cluster with one row or one column node takes its cheapest pair; others go to
    ``linear_sum_assignment``.
    """
    if rows.shape != cols.shape or rows.shape != cost.shape or rows.ndim != 1:
        raise ValueError(f"rows, cols, cost must be equal (K,) arrays, got {rows.shape}, {cols.shape}, {cost.shape}")
    if np.any(~(cost < 0.0)):
        raise ValueError("cost must be < 0 for every candidate pair (a pair that gains nothing is not a candidate)")
    if rows.size and min(int(rows.min()), int(cols.min())) < 0:
        raise ValueError("rows and cols must be non-negative node ids")
    chosen = np.zeros(rows.size, dtype=bool)
    if rows.size == 0:
        return chosen
    r, c = rows.astype(np.int64), cols.astype(np.int64)
    nr, nc = int(r.max()) + 1, int(c.max()) + 1
    graph = coo_matrix((np.ones(rows.size), (r, nr + c)), shape=(nr + nc, nr + nc))
    _, label32 = connected_components(graph, directed=False)
    label = label32.astype(np.int64)  # int32 from scipy: keys built from it must not overflow
    comp = label[r]
    edges_in = np.bincount(comp, minlength=label.max() + 1)
    single = edges_in[comp] == 1  # most clusters: one object, one track
    chosen[single] = True
    n_rows = np.bincount(label[:nr][np.bincount(r, minlength=nr) > 0], minlength=label.max() + 1)
    n_cols = np.bincount(label[nr:][np.bincount(c, minlength=nc) > 0], minlength=label.max() + 1)
    rest = np.flatnonzero(~single)
    order = rest[np.lexsort((cost[rest], comp[rest]))]  # by cluster, cheapest first
    comp_sorted = comp[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = comp_sorted[1:] != comp_sorted[:-1]
    star = np.minimum(n_rows, n_cols)[comp_sorted] == 1
    chosen[order[first & star]] = True
    general = order[~star]  # clusters needing a solver, grouped by cluster
    if general.size:
        g_comp = comp[general]
        local_r = _rank_within(g_comp, r[general])
        local_c = _rank_within(g_comp, c[general])
        bounds = np.flatnonzero(np.diff(g_comp)) + 1
        for edges, lr, lc in zip(np.split(general, bounds), np.split(local_r, bounds), np.split(local_c, bounds),
                                 strict=True):
            dense = np.zeros((lr.max() + 1, lc.max() + 1))
            edge_at = np.full(dense.shape, -1, dtype=np.int64)
            dense[lr, lc] = cost[edges]
            edge_at[lr, lc] = edges
            picked = edge_at[linear_sum_assignment(dense)]
            chosen[picked[picked >= 0]] = True
    return chosen


def gospa_parts(truth_xy: FloatArray, track_xy: FloatArray, *, c: float, p: float = 2.0) -> dict[str, float]:
    """GOSPA (alpha = 2) between two point sets, (n, 2) and (m, 2) metres.

    Returns gospa_m, localisation, missed, false (the three parts in m^p, summing to
    gospa_m^p), n_missed, n_false, and ospa_m.
    """
    if truth_xy.ndim != 2 or truth_xy.shape[1] != 2 or track_xy.ndim != 2 or track_xy.shape[1] != 2:
        raise ValueError(f"point sets must be (n, 2) and (m, 2), got {truth_xy.shape} and {track_xy.shape}")
    d = np.linalg.norm(truth_xy[:, None, :] - track_xy[None, :, :], axis=-1)
    i, j = np.nonzero(d < c)
    chosen = assign_sparse(i, j, d[i, j] ** p - c**p)
    loc = float(np.sum(d[i[chosen], j[chosen]] ** p))
    n_pairs = int(chosen.sum())
    return _gospa_from_counts(loc, len(truth_xy), len(track_xy), n_pairs, c, p)


def _gospa_from_counts(loc: Any, n_truth: Any, n_tracks: Any, n_pairs: Any, c: float, p: float) -> dict[str, Any]:
    """GOSPA parts and OSPA from per-set sums; works on scalars or equal-shape arrays."""
    missed = (n_truth - n_pairs) * c**p / 2.0
    false = (n_tracks - n_pairs) * c**p / 2.0
    n = np.maximum(n_truth, n_tracks)
    ospa_p = np.divide(loc + c**p * (n - n_pairs), n, out=np.zeros_like(loc, dtype=np.float64), where=n > 0)
    return {
        "gospa_m": (loc + missed + false) ** (1.0 / p),
        "localisation": loc,
        "missed": missed,
        "false": false,
        "n_missed": n_truth - n_pairs,
        "n_false": n_tracks - n_pairs,
        "ospa_m": ospa_p ** (1.0 / p),
    }


# --------------------------------------------------------------------------- evaluation


def nearest(times: FloatArray, query: FloatArray) -> IntArray:
    """Index into sorted ``times`` (n >= 1,) of the nearest time to each ``query`` (Q,) -> (Q,)."""
    if times.size == 1:
        return np.zeros(query.shape, dtype=np.int64)
    j = np.clip(np.searchsorted(times, query), 1, times.size - 1)
    return np.where(query - times[j - 1] <= times[j] - query, j - 1, j).astype(np.int64)


def candidate_pairs(a_xy: FloatArray, a_slice: IntArray, b_xy: FloatArray, b_slice: IntArray, radius: float
                    ) -> tuple[IntArray, IntArray]:
    """All pairs (i, j) in the same slice with |a_xy[i] - b_xy[j]| <= radius.

    a_xy (n, 2), b_xy (m, 2) metres; a_slice (n,), b_slice (m,) non-negative ints (a slice is
    one tick and domain). Returns (K,), (K,). Spatial hash: square cells of side 2 radius,
    keyed by (slice, column, row) and sorted. Everything within ``radius`` of a point lies in
    its own cell or the neighbours towards the nearer edges: two columns, each a run of two
    consecutive keys, found with searchsorted.
    """
    empty = np.zeros(0, dtype=np.int64)
    if a_xy.shape[0] == 0 or b_xy.shape[0] == 0:
        return empty, empty
    side = 2.0 * radius
    origin = np.minimum(a_xy.min(axis=0), b_xy.min(axis=0)) - side  # column/row 0 stays empty
    pos_a = (a_xy - origin) / side
    cell_a = np.floor(pos_a).astype(np.int64)
    cell_b = np.floor((b_xy - origin) / side).astype(np.int64)
    n_x = int(max(cell_a[:, 0].max(), cell_b[:, 0].max())) + 2
    n_y = int(max(cell_a[:, 1].max(), cell_b[:, 1].max())) + 2
    key_b = (b_slice * n_x + cell_b[:, 0]) * n_y + cell_b[:, 1]
    order_b = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order_b]
    toward = np.where(pos_a - cell_a >= 0.5, 1, -1)  # (n, 2): the nearer neighbour column and row
    key_a = (a_slice * n_x + cell_a[:, 0]) * n_y + cell_a[:, 1]
    order_a = np.argsort(key_a, kind="stable")  # sorted queries make searchsorted cache-friendly
    key_a, toward = key_a[order_a], toward[order_a]
    row_lo = np.minimum(toward[:, 1], 0)
    pairs_i, pairs_j = [], []
    for column in (np.zeros_like(key_a), toward[:, 0]):
        base = key_a + column * n_y + row_lo
        first = np.searchsorted(sorted_b, base, side="left")
        stop = np.searchsorted(sorted_b, base + 1, side="right")  # rows row_lo, row_lo + 1
        owner, pos = expand_ranges(first, stop - first)
        pairs_i.append(order_a[owner])
        pairs_j.append(order_b[pos])
    i, j = np.concatenate(pairs_i), np.concatenate(pairs_j)
    near = np.sum((a_xy[i] - b_xy[j]) ** 2, axis=1) <= radius * radius
    return i[near], j[near]


def _distinct_times(t: FloatArray) -> tuple[FloatArray, IntArray]:
    """Sorted distinct times of ``t`` (n,) and the index of each element among them, like
    ``np.unique(t, return_inverse=True)`` but without sorting when ``t`` is already in order."""
    if t.size and np.all(t[1:] >= t[:-1]):
        new = np.empty(t.size, dtype=bool)
        new[0] = True
        np.not_equal(t[1:], t[:-1], out=new[1:])
        return t[new], np.cumsum(new) - 1
    values, inverse = np.unique(t, return_inverse=True)
    return values, inverse.astype(np.int64)


def _median_step(times: FloatArray) -> float:
    steps = np.diff(times)
    return float(np.median(steps)) if steps.size else math.inf


def _frame_for(truth: TruthColumns, tracks: TrackColumns) -> LocalFrame:
    """A local frame over the data's bounds, padded by 0.05 degrees."""
    def bounds(*cols: FloatArray) -> tuple[float, float]:
        return min(float(np.nanmin(c)) for c in cols if c.size), max(float(np.nanmax(c)) for c in cols if c.size)

    (lat_lo, lat_hi), (lon_lo, lon_hi) = bounds(truth.lat, tracks.lat), bounds(truth.lon, tracks.lon)
    pad = 0.05
    return LocalFrame(max(lat_lo - pad, -89.9), min(lat_hi + pad, 89.9), max(lon_lo - pad, -180.0), min(lon_hi + pad, 180.0))


def _scale_at(frame: LocalFrame, lat: FloatArray) -> FloatArray:
    """Point scale factor k at ``lat`` (R,): the conic's k depends on latitude only."""
    grid = np.linspace(frame.lat_min, frame.lat_max, 257)
    k = frame.scale(grid, np.full_like(grid, 0.5 * (frame.lon_min + frame.lon_max)))
    return np.interp(lat, grid, k)


@dataclass(frozen=True)
class Matching:
    """The per-tick assignment between truth rows and track rows, shared by every metric.

    ticks: (T,) evaluation times. truth_tick: (R,) tick index per truth row.
    track_row: (E,) index into TrackColumns of each track row used; track_tick: (E,).
    pair_truth, pair_track: (P,) indices into the truth rows and the E track rows.
    err_en_m: (P, 2) track minus truth position, true metres. dist_m: (P,).
    """

    ticks: FloatArray
    truth_tick: IntArray
    track_row: IntArray
    track_tick: IntArray
    pair_truth: IntArray
    pair_track: IntArray
    err_en_m: FloatArray
    dist_m: FloatArray
    truth_interval_s: float
    track_interval_s: float


def match(truth: TruthColumns, tracks: TrackColumns, config: MetricsConfig, domains: list[str], *,
          workers: int | None = None) -> Matching:
    """Build the evaluation grid and solve the GOSPA assignment at every tick and domain."""
    ticks, truth_tick = _distinct_times(truth.t)
    truth_interval = _median_step(ticks)
    scored = np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s in config.statuses])
    scored_rows = np.flatnonzero(scored)
    if np.any(np.diff(tracks.t[scored_rows]) < 0.0):  # files are written in time order; others are sorted here
        scored_rows = scored_rows[np.argsort(tracks.t[scored_rows], kind="stable")]
    out_times, out_index = _distinct_times(tracks.t[scored_rows])
    counts = np.bincount(out_index, minlength=out_times.size)
    starts = np.cumsum(counts) - counts
    all_out, _ = _distinct_times(tracks.t)
    track_interval = _median_step(all_out) if all_out.size > 1 else truth_interval
    track_tick, track_row = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if out_times.size:
        j = nearest(out_times, ticks)
        ok = np.abs(out_times[j] - ticks) <= 0.5 * track_interval + 1e-9
        owner, pos = expand_ranges(starts[j[ok]], counts[j[ok]])
        track_tick = np.flatnonzero(ok)[owner]
        track_row = scored_rows[pos]
    frame = _frame_for(truth, tracks)
    cutoff = np.array([config.cutoff(d, "tracks/truth") for d in domains])
    # ticks are independent: blocks of ticks are matched in threads (numpy and PROJ release the GIL)
    n_blocks = max(1, min(workers or len(os.sched_getaffinity(0)), ticks.size))
    edges = np.searchsorted(np.cumsum(np.bincount(truth_tick, minlength=ticks.size)),
                            np.linspace(0, truth.t.size, n_blocks + 1)[1:-1])
    blocks = [(np.flatnonzero((truth_tick >= lo) & (truth_tick < hi)), np.flatnonzero((track_tick >= lo) & (track_tick < hi)))
              for lo, hi in zip([0, *edges.tolist()], [*edges.tolist(), ticks.size], strict=True)]
    with ThreadPoolExecutor(n_blocks) as pool:
        parts = list(pool.map(lambda b: _match_block(b[0], b[1], ticks, truth_tick, track_tick, track_row, truth, tracks,
                                                     frame, cutoff, config.p, len(domains)), blocks))
    pair_truth, pair_track, err, dist = (np.concatenate([part[k] for part in parts]) for k in range(4))
    return Matching(ticks, truth_tick, track_row, track_tick, pair_truth, pair_track, err.reshape(-1, 2), dist,
                    truth_interval, track_interval)


def _match_block(rows: IntArray, expanded: IntArray, ticks: FloatArray, truth_tick: IntArray, track_tick: IntArray,
                 track_row: IntArray, truth: TruthColumns, tracks: TrackColumns, frame: LocalFrame, cutoff: FloatArray,
                 p: float, n_dom: int) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """The GOSPA assignment for the truth rows ``rows`` and expanded track rows ``expanded`` of a block of ticks.

    Returns the chosen pairs as (truth row, expanded track row), their (P, 2) east/north
    error (true metres) and (P,) distance.
    """
    frame = LocalFrame(frame.lat_min, frame.lat_max, frame.lon_min, frame.lon_max)  # PROJ objects: one per thread
    lat, lon = truth.lat[rows], truth.lon[rows]
    te, tn = frame.to_local(lat, lon)
    k_truth = _scale_at(frame, lat)
    src = track_row[expanded]
    re_, rn = frame.to_local(tracks.lat[src], tracks.lon[src])
    k_track = _scale_at(frame, tracks.lat[src])
    dt = ticks[track_tick[expanded]] - tracks.t[src]
    ve, vn = tracks.vel_e_mps[src], tracks.vel_n_mps[src]
    moving = np.isfinite(ve) & np.isfinite(vn)
    re_ = re_ + np.where(moving, ve * k_track * dt, 0.0)
    rn = rn + np.where(moving, vn * k_track * dt, 0.0)
    truth_domain = truth.domain[rows]
    # projected distances are k (about 1 +- 0.01) times the true ones; widen the radius to match
    radius = float(cutoff.max()) * (float(k_truth.max()) if k_truth.size else 1.0)
    i, j = candidate_pairs(np.column_stack([te, tn]), truth_tick[rows] * n_dom + truth_domain,
                           np.column_stack([re_, rn]), track_tick[expanded] * n_dom + tracks.domain[src], radius)
    err = np.column_stack([re_[j] - te[i], rn[j] - tn[i]]) / k_truth[i, None]
    dist = np.hypot(err[:, 0], err[:, 1])
    c_pair = cutoff[truth_domain[i]]
    near = dist < c_pair
    i, j, err, dist, c_pair = i[near], j[near], err[near], dist[near], c_pair[near]
    chosen = assign_sparse(i, j, dist**p - c_pair**p)
    return rows[i[chosen]], expanded[j[chosen]], err[chosen].ravel(), dist[chosen]


def _stats(values: FloatArray) -> dict[str, float | None]:
    if values.size == 0:
        return {"mean": None, "median": None, "max": None}
    return {"mean": float(np.mean(values)), "median": float(np.median(values)), "max": float(np.max(values))}


def _per_tick(m: Matching, truth: TruthColumns, tracks: TrackColumns, config: MetricsConfig, domains: list[str]
              ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """GOSPA/OSPA summaries per domain, and the per-tick series rows."""
    n_t, n_dom = m.ticks.size, len(domains)
    size = n_t * n_dom
    truth_slice = m.truth_tick * n_dom + truth.domain
    track_slice = m.track_tick * n_dom + tracks.domain[m.track_row]
    pair_slice = truth_slice[m.pair_truth]
    n_truth = np.bincount(truth_slice, minlength=size).reshape(n_t, n_dom)
    n_tracks = np.bincount(track_slice, minlength=size).reshape(n_t, n_dom)
    n_pairs = np.bincount(pair_slice, minlength=size).reshape(n_t, n_dom)
    loc = np.bincount(pair_slice, weights=m.dist_m**config.p, minlength=size).reshape(n_t, n_dom)
    summary: dict[str, dict[str, Any]] = {}
    series: list[dict[str, Any]] = [{"t": float(t)} for t in m.ticks]
    for d, name in enumerate(domains):
        c = config.cutoff(name, "tracks/truth")
        g = _gospa_from_counts(loc[:, d], n_truth[:, d], n_tracks[:, d], n_pairs[:, d], c, config.p)
        summary[name] = {
            "gospa": {
                "c_m": c, "p": config.p, "alpha": config.alpha,
                "mean_m": float(np.mean(g["gospa_m"])),
                "localisation_mean": float(np.mean(g["localisation"])),
                "missed_mean": float(np.mean(g["missed"])),
                "false_mean": float(np.mean(g["false"])),
                "n_missed_mean": float(np.mean(g["n_missed"])),
                "n_false_mean": float(np.mean(g["n_false"])),
            },
            "ospa": {"c_m": c, "p": config.p, "mean_m": float(np.mean(g["ospa_m"]))},
        }
        columns = {"gospa_m": g["gospa_m"], "localisation": g["localisation"], "missed": g["missed"], "false": g["false"],
                   "ospa_m": g["ospa_m"], "truth": n_truth[:, d], "tracks": n_tracks[:, d], "assigned": n_pairs[:, d]}
        for key, values in columns.items():
            for row, v in zip(series, values.tolist(), strict=True):
                row[f"{name}.{key}"] = round(v, _DIGITS)
    return summary, series


def _accuracy(m: Matching, truth: TruthColumns, tracks: TrackColumns, d: int) -> dict[str, Any]:
    """Position/velocity RMSE and position NEES over the assigned pairs of domain ``d``."""
    sel = truth.domain[m.pair_truth] == d
    err = m.err_en_m[sel]
    rows = m.track_row[m.pair_track[sel]]
    truth_rows = m.pair_truth[sel]
    dv = np.column_stack([tracks.vel_e_mps[rows] - truth.vel_e_mps[truth_rows], tracks.vel_n_mps[rows] - truth.vel_n_mps[truth_rows]])
    dv = dv[np.all(np.isfinite(dv), axis=1)]
    cov = tracks.cov_en_m2[rows]
    a, b, c, e = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 0], cov[:, 1, 1]
    det = a * e - b * c
    valid = np.isfinite(det) & (det > 0.0) & (a > 0.0)
    ex, ny = err[valid, 0], err[valid, 1]
    nees = (e[valid] * ex * ex - (b[valid] + c[valid]) * ex * ny + a[valid] * ny * ny) / det[valid]
    return {
        "rmse": {
            "position_m": float(np.sqrt(np.mean(np.sum(err**2, axis=1)))) if err.size else None,
            "velocity_mps": float(np.sqrt(np.mean(np.sum(dv**2, axis=1)))) if dv.size else None,
            "pairs": int(sel.sum()),
            "velocity_pairs": int(dv.shape[0]),
        },
        "nees": {
            "mean": float(np.mean(nees)) if nees.size else None,
            "expected_mean": 2.0,
            "within_95pct": float(np.mean(nees <= NEES_95)) if nees.size else None,
            "samples": int(nees.size),
        },
    }


def _pair_counts(a: IntArray, b: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Distinct (a, b) pairs of non-negative ints and how often each occurs, sorted by (a, b)."""
    width = int(b.max()) + 1
    keys, counts = np.unique(a.astype(np.int64) * width + b, return_counts=True)
    return keys // width, keys % width, counts


@dataclass(frozen=True)
class _ObjectTracks:
    """Per truth row: its object, tick and assigned track code (-1 = none), sorted by (object, tick)."""

    obj: IntArray
    tick: IntArray
    track: IntArray
    domain: IntArray


def _object_tracks(m: Matching, truth: TruthColumns, tracks: TrackColumns) -> _ObjectTracks:
    assigned = np.full(truth.t.size, -1, dtype=np.int64)
    assigned[m.pair_truth] = tracks.track[m.track_row[m.pair_track]]
    order = np.lexsort((m.truth_tick, truth.obj))
    return _ObjectTracks(truth.obj[order], m.truth_tick[order], assigned[order], truth.domain[order])


def _continuity(ot: _ObjectTracks, n_obj: int, objects: BoolArray) -> dict[str, Any]:
    """Identity switches, fragmentations and best-track coverage over the objects selected (O,) bool."""
    sel = objects[ot.obj]
    obj, track = ot.obj[sel], ot.track[sel]
    hit = track >= 0
    same_obj_prev = np.zeros(obj.size, dtype=bool)
    same_obj_prev[1:] = obj[1:] == obj[:-1]
    # identity switch: an object's assigned track differs from its previous assigned track
    h_obj, h_track = obj[hit], track[hit]
    switches = int(np.sum((h_obj[1:] == h_obj[:-1]) & (h_track[1:] != h_track[:-1])))
    # fragmentation: a run of assigned ticks that starts after an unassigned tick of the same object
    prev_hit = np.zeros(obj.size, dtype=bool)
    prev_hit[1:] = hit[:-1]
    run_start = hit & ~(same_obj_prev & prev_hit)
    starts_per_obj = np.bincount(obj[run_start], minlength=n_obj)
    fragmentations = int(np.sum(np.maximum(starts_per_obj - 1, 0)))
    life = np.bincount(obj, minlength=n_obj)
    best = np.zeros(n_obj, dtype=np.int64)
    tracks_per_obj = np.zeros(n_obj, dtype=np.int64)
    if h_obj.size:
        pair_obj, _, counts = _pair_counts(h_obj, h_track)
        np.maximum.at(best, pair_obj, counts)
        np.add.at(tracks_per_obj, pair_obj, 1)
    alive = life > 0
    coverage = best[alive] / life[alive]
    return {
        "objects": int(alive.sum()),
        "identity_switches": switches,
        "fragmentations": fragmentations,
        "best_track_coverage_mean": float(np.mean(coverage)) if coverage.size else None,
        "best_track_coverage_min": float(np.min(coverage)) if coverage.size else None,
        "tracks_per_object_mean": float(np.mean(tracks_per_obj[alive])) if coverage.size else None,
        "never_tracked": int(np.sum(alive & (best == 0))),
    }


def _alert_objects(alerts: AlertColumns, m: Matching, truth: TruthColumns, tracks: TrackColumns) -> IntArray:
    """(A,) the truth object each alert is about, -1 for none (rules in docs/EVALUATION.md)."""
    n_tracks = max(len(tracks.track_ids), 1)
    track_code_of = {tid: i for i, tid in enumerate(tracks.track_ids)}
    code = np.array([track_code_of.get(int(tid), -1) for tid in alerts.track_id], dtype=np.int64)
    pair_track = tracks.track[m.track_row[m.pair_track]]
    pair_obj = truth.obj[m.pair_truth]
    key = m.truth_tick[m.pair_truth] * n_tracks + pair_track
    order = np.argsort(key, kind="stable")
    key, key_obj = key[order], pair_obj[order]
    # the alert's tick: nearest evaluation tick within half a truth interval
    k = nearest(m.ticks, alerts.t)
    near = np.abs(m.ticks[k] - alerts.t) <= 0.5 * m.truth_interval_s + 1e-9
    want = k * n_tracks + code
    result = np.full(code.size, -1, dtype=np.int64)
    if key.size:
        at = np.minimum(np.searchsorted(key, want), key.size - 1)
        ok = near & (code >= 0) & (key[at] == want)
        result[ok] = key_obj[at[ok]]
    # otherwise: the object the track followed most often
    majority = np.full(n_tracks, -1, dtype=np.int64)
    if pair_track.size:
        by_track, objs, counts = _pair_counts(pair_track, pair_obj)
        order = np.lexsort((-counts, by_track))  # per track, most frequent object first
        by_track, objs = by_track[order], objs[order]
        first = np.ones(by_track.size, dtype=bool)
        first[1:] = by_track[1:] != by_track[:-1]
        majority[by_track[first]] = objs[first]
    fallback = np.where(code >= 0, majority[np.maximum(code, 0)], -1)
    result = np.where(result >= 0, result, fallback)
    if alerts.acq_t is not None:
        for i in np.flatnonzero((code < 0) & np.isfinite(alerts.acq_t)):
            result[i] = _detection_object(truth, float(alerts.acq_t[i]), float(alerts.lat[i]), float(alerts.lon[i]))
    return result


def _detection_object(truth: TruthColumns, t: float, lat: float, lon: float) -> int:
    """The truth object nearest (lat, lon) at the truth tick nearest ``t``, within DETECTION_MATCH_M; else -1."""
    if truth.t.size == 0:
        return -1
    ticks = np.unique(truth.t)
    at = truth.t == ticks[nearest(ticks, np.array([t]))[0]]
    dy = (truth.lat[at] - lat) * 111_320.0
    dx = (truth.lon[at] - lon) * 111_320.0 * math.cos(math.radians(lat))
    d = np.hypot(dx, dy)
    if d.size == 0 or d.min() > DETECTION_MATCH_M:
        return -1
    return int(truth.obj[at][int(np.argmin(d))])


def behaviour_onset(truth: TruthColumns, n_obj: int) -> FloatArray:
    """(O,) when each suspect's labelled behaviour starts: its first truth tick whose activity no
    benign object ever carries (else its first tick); -inf for benign objects (docs/EVALUATION.md)."""
    onset = np.full(n_obj, -np.inf)
    if truth.activity is None:
        return onset
    benign_labels = np.unique(truth.activity[~truth.suspect])
    first = np.full(n_obj, np.inf)
    np.minimum.at(first, truth.obj[truth.suspect], truth.t[truth.suspect])
    own = truth.suspect & ~np.isin(truth.activity, benign_labels)
    start = np.full(n_obj, np.inf)
    np.minimum.at(start, truth.obj[own], truth.t[own])
    sus = np.isfinite(first)
    onset[sus] = np.where(np.isfinite(start[sus]), start[sus], first[sus])
    return onset


def _first_tracked(obj: IntArray, t: FloatArray, n_obj: int, not_before: FloatArray) -> FloatArray:
    """(O,) first time at or after ``not_before`` (per object) at which a scored track followed the object."""
    out = np.full(n_obj, np.inf)
    ok = t >= not_before[obj]
    np.minimum.at(out, obj[ok], t[ok])
    return out


def _alert_scores(rows: BoolArray, alerts: AlertColumns, alert_obj: IntArray, suspect: BoolArray, observable: FloatArray,
                  first_seen: FloatArray, n_benign: int, days: float) -> dict[str, Any]:
    """Object-level precision/recall, alert-level precision, false-alarm rate, time to alert over alert rows ``rows``."""
    live = rows & ~alerts.cleared
    obj, alert, t = alert_obj[live], alerts.alert[live], alerts.t[live]
    named = obj >= 0
    suspect_alert = np.zeros(live.sum(), dtype=bool)
    suspect_alert[named] = suspect[obj[named]]
    found = np.unique(obj[suspect_alert])
    benign_alerted = np.unique(obj[named & ~suspect_alert])
    alert_ids = np.unique(alert)
    true_ids = np.unique(alert[suspect_alert])
    false_ids = np.setdiff1d(alert_ids, true_ids)
    first_alert = np.full(suspect.size, np.inf)
    np.minimum.at(first_alert, obj[suspect_alert], t[suspect_alert])
    tta = np.maximum(first_alert[found] - observable[found], 0.0)  # alerted before the labelled onset: 0
    tta = tta[np.isfinite(tta)]
    tta_seen = first_alert[found] - first_seen[found]
    tta_seen = tta_seen[np.isfinite(tta_seen)]
    n_suspects = int(suspect.sum())
    alerted = found.size + benign_alerted.size
    return {
        "alerts": int(alert_ids.size),
        "suspects": n_suspects,
        "suspects_found": int(found.size),
        "recall": found.size / n_suspects if n_suspects else None,
        "precision": found.size / alerted if alerted else None,
        "alert_precision": true_ids.size / alert_ids.size if alert_ids.size else None,
        "benign_objects_alerted": int(benign_alerted.size),
        "false_alarms": int(false_ids.size),
        "false_alarms_per_10_benign_per_day": false_ids.size / (n_benign / 10.0) / days if n_benign and days > 0 else None,
        "time_to_alert_s": _stats(tta),
        "time_to_alert_from_first_track_s": _stats(tta_seen),
    }


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, _DIGITS) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def evaluate(truth: TruthColumns, tracks: TrackColumns, alerts: AlertColumns, domains: list[str],
             config: MetricsConfig | None = None, *, workers: int | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """All metrics from columns -> (metrics dict, per-tick series rows). ``workers``: threads
    for the matching and processes for reading (default: the available cores); results do
    not depend on it."""
    config = config or MetricsConfig()
    if truth.t.size == 0:
        raise ValueError("truth.jsonl: no rows: nothing to score against")
    m = match(truth, tracks, config, domains, workers=workers)
    per_domain, series = _per_tick(m, truth, tracks, config, domains)
    ot = _object_tracks(m, truth, tracks)
    n_obj = len(truth.ids)
    obj_domain = np.full(n_obj, -1, dtype=np.int64)
    obj_domain[truth.obj] = truth.domain
    suspect = np.zeros(n_obj, dtype=bool)
    suspect[truth.obj[truth.suspect]] = True
    for d, name in enumerate(domains):
        per_domain[name].update(_accuracy(m, truth, tracks, d))
        per_domain[name]["continuity"] = _continuity(ot, n_obj, obj_domain == d)
    hit = ot.track >= 0
    first_seen = _first_tracked(ot.obj[hit], m.ticks[ot.tick[hit]], n_obj, np.full(n_obj, -np.inf))
    onset = behaviour_onset(truth, n_obj)
    observable = _first_tracked(ot.obj[hit], m.ticks[ot.tick[hit]], n_obj, onset)
    observable = np.where(np.isfinite(observable), observable, onset)  # not followed after the onset: the onset
    duration_s = float(m.ticks[-1] - m.ticks[0]) + (m.truth_interval_s if math.isfinite(m.truth_interval_s) else 0.0)
    days = duration_s / 86400.0
    n_benign = int(n_obj - suspect.sum())
    alert_obj = _alert_objects(alerts, m, truth, tracks)
    everything = np.ones(alerts.t.size, dtype=bool)
    by_rule = {rule: _alert_scores(alerts.rule == r, alerts, alert_obj, suspect, observable, first_seen, n_benign, days)
               for r, rule in enumerate(alerts.rules)}
    scored_status = np.isin(tracks.status, [i for i, s in enumerate(tracks.statuses) if s in config.statuses])
    scored_tracks = np.unique(tracks.track[scored_status])
    followed = np.unique(tracks.track[m.track_row[m.pair_track]])
    metrics = {
        "config": {"p": config.p, "alpha": config.alpha, "cutoff_m": dict(config.cutoff_m), "statuses": list(config.statuses)},
        "inputs": {
            "truth_rows": int(truth.t.size), "track_rows": int(tracks.t.size), "alert_rows": int(alerts.t.size),
            "ticks": int(m.ticks.size), "truth_interval_s": m.truth_interval_s, "track_interval_s": m.track_interval_s,
            "duration_s": duration_s, "objects": n_obj, "suspects": int(suspect.sum()), "benign": n_benign,
            "scored_tracks": int(scored_tracks.size), "tracks_never_assigned": int(np.setdiff1d(scored_tracks, followed).size),
        },
        "domains": per_domain,
        "continuity": _continuity(ot, n_obj, np.ones(n_obj, dtype=bool)),
        "alerts": {"all": _alert_scores(everything, alerts, alert_obj, suspect, observable, first_seen, n_benign, days),
                   "by_rule": by_rule},
    }
    return _round(metrics), series


def evaluate_dir(dir: Path, config: MetricsConfig | None = None, *, workers: int | None = None) -> dict[str, Any]:
    """Score ``dir``/truth.jsonl against tracks.jsonl and alerts.jsonl; writes metrics.json and metrics_series.jsonl."""
    dir = Path(dir)
    for name in (TRUTH_FILE, TRACKS_FILE):
        if not (dir / name).exists():
            raise FileNotFoundError(f"{dir / name}: required for scoring")
    domains = Codebook()
    truth = read_truth(dir / TRUTH_FILE, domains, workers=workers)
    tracks = read_tracks(dir / TRACKS_FILE, domains, workers=workers)
    alerts = read_alerts(dir / ALERTS_FILE)
    metrics, series = evaluate(truth, tracks, alerts, domains.values, config, workers=workers)
    write_outputs(dir, metrics, series)
    return metrics


def write_outputs(dir: Path, metrics: dict[str, Any], series: list[dict[str, Any]]) -> None:
    """Write metrics.json (sorted keys) and metrics_series.jsonl into ``dir``."""
    (dir / METRICS_FILE).write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n")
    with (dir / SERIES_FILE).open("w") as f:
        f.writelines(json.dumps(row, sort_keys=True) + "\n" for row in series)
