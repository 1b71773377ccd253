"""Real AIS data in: MarineCadastre CSV -> a recording, and replay with the area taken from the data.

    python -m fusion.realdata_import CSV -o recording.jsonl.gz [--source NAME] [--replay DIR]

The CSV rows (sensors.realdata.read_marinecadastre_csv) are put in time order, encoded as
AIS NMEA payloads (sensors.realdata.positions_to_payloads: reports of one second share a
payload, as aggregators send them) and written with fusion.recording.RecordingWriter on
``jisf/v1/feeds/ais/{source}``, receive time = the payload's report time. The recording
then goes through exactly the service's decode, tracking and rules path.

``replay_with_data_area`` replays any AIS recording with a tracker frame covering the
positions in it (decoded with the service's own AIS decoder) plus a margin, and no zones
(an empty GeoJSON FeatureCollection): real traffic is not in a scenario's area.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import dataclasses
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import msgspec

from fusion import cliutil
from fusion.core.config import SURFACE_DEFAULT, TrackerConfig
from fusion.offline import DEFAULT_MARGIN_DEG, DataArea, fusion_for_area, run_to_dir
from fusion.offline import data_area as offline_data_area
from fusion.pipeline import FusionConfig
from fusion.recording import RecordingWriter, read_recording
from sensors.realdata import (
    MARINECADASTRE_SOURCE,
    positions_to_payloads,
    read_marinecadastre_csv,
    read_nmea_file,
    tag_nmea_line,
)
from sensors.reports import AisPosition

AIS_TOPIC_ROOT = "jisf/v1/feeds/ais/"
EMPTY_ZONES: dict[str, object] = {"type": "FeatureCollection", "features": []}

# MarineCadastre data are thinned to about one report per vessel per minute (median
# interval 71 s, p90 181 s on the New York file), where live AIS reports every 2-10 s
# (class A underway) to 3 min (class B, at anchor). With the default surface limits
# (a tentative track dies after 60 s without an update, a confirmed one coasts after
# 60 s and dies after 900 s) most vessels lose their first track before the second
# report arrives. A track born from a report without COG/SOG (sigma 12 m/s per axis)
# also passes the 5 km position-sigma limit after about 7 min without a report. These
# limits fit thinned data: a tentative track waits 15 min (class B vessels at anchor
# report every 3 min but can be silent for 12 min, measured on the New York file), a track is reported coasting
# after 10 min without a report and deleted after 30 min or when its position sigma
# passes 20 km.
THINNED_AIS_SURFACE = dataclasses.replace(SURFACE_DEFAULT, tentative_max_age_s=900.0, coast_after_s=600.0,
                                          max_coast_s=1800.0, max_pos_sigma_m=20000.0)
THINNED_AIS_CONFIG = FusionConfig(tracker=TrackerConfig(surface=THINNED_AIS_SURFACE))


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote."""

    positions: int
    messages: int
    vessels: int
    t_first: float
    t_last: float


def read_positions(csv_path: Path | str, *, source: str = MARINECADASTRE_SOURCE,
                   first_s: float | None = None) -> list[AisPosition]:
    """The CSV's positions in time order (stable); with ``first_s``, only the first ``first_s`` seconds."""
    positions = sorted(read_marinecadastre_csv(csv_path, source=source), key=lambda p: p.t)
    if first_s is not None and positions:
        end = positions[0].t + first_s
        positions = [p for p in positions if p.t < end]
    return positions


def thin_marinecadastre(src: Path | str, out: Path | str, period_s: float) -> int:
    """Copy the (plain text) MarineCadastre CSV ``src`` keeping, per MMSI, the first row and then each row at least ``period_s``
    after the last kept one (rows taken in time order, ties in file order); returns rows kept."""
    src, out = Path(src), Path(out)
    times = [p.t for p in read_marinecadastre_csv(src)]
    with src.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    order = sorted(range(len(rows)), key=lambda i: (times[i], i))
    last: dict[str, float] = {}
    keep: list[int] = []
    for i in order:
        mmsi = rows[i]["MMSI"]
        if mmsi not in last or times[i] >= last[mmsi] + period_s:
            last[mmsi] = times[i]
            keep.append(i)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows[i] for i in sorted(keep))
    return len(keep)


def import_marinecadastre(csv_path: Path | str, out: Path | str, *, source: str = MARINECADASTRE_SOURCE,
                          window_s: float = 1.0, first_s: float | None = None,
                          on_message: Callable[[float], None] | None = None) -> ImportSummary:
    """Write the CSV's positions (the first ``first_s`` seconds if given) as an AIS feed recording at
    ``out`` (a new file; an existing one is replaced); ``on_message(t)`` after each message written."""
    positions = read_positions(csv_path, source=source, first_s=first_s)
    if not positions:
        raise ValueError(f"{csv_path}: no position reports")
    out = Path(out)
    out.unlink(missing_ok=True)
    topic = AIS_TOPIC_ROOT + source
    n = 0
    with RecordingWriter(out, flush_interval_s=3600.0, fsync=False) as writer:
        for t, _source, payload in positions_to_payloads(positions, window_s=window_s):
            writer.append(topic, payload, 0, False, t)
            n += 1
            if on_message is not None:
                on_message(t)
    return ImportSummary(len(positions), n, len({p.mmsi for p in positions}), positions[0].t, positions[-1].t)


# An NMEA 0183 ZDA sentence: UTC time hhmmss.ss, day, month, year (NMEA 0183 v4.10, "ZDA - Time & Date").
_ZDA = re.compile(r"^\$[A-Z]{2}ZDA,(\d{2})(\d{2})(\d{2}(?:\.\d*)?),(\d{2}),(\d{2}),(\d{4}),")


def zda_time(line: str) -> float | None:
    """Unix seconds of an NMEA ``$--ZDA`` time-and-date sentence, None for any other line or a bad date."""
    m = _ZDA.match(line)
    if m is None:
        return None
    hh, mm, ss, day, month, year = m.groups()
    try:
        base = datetime(int(year), int(month), int(day), int(hh), int(mm), tzinfo=UTC)
    except ValueError:
        return None
    return base.timestamp() + float(ss)


@dataclass(frozen=True)
class ClockedBatch:
    """The AIS sentences of an NMEA log received between two clock readings: ``t`` the earlier reading
    (Unix s), ``lines`` the ``!`` sentences in file order (with an NMEA 4.0 tag block holding the line's own
    trailing epoch where it has one)."""

    t: float
    lines: tuple[str, ...]


def clocked_nmea(path: Path | str, source: str) -> tuple[list[ClockedBatch], int]:
    """An NMEA log (plain or gzip) as batches of AIS sentences timed by the log's own ``$--ZDA`` clock
    sentences, and the number of other lines left out (status, GPS and proprietary sentences).

    A receiver or aggregator log in arrival order carries its clock as ZDA sentences (the AMSA stream: one
    a second); every AIS sentence is given the last clock reading before it (those before the first reading:
    the first reading). ``ValueError`` when the log holds no ZDA sentence (no receive time can be given)."""
    batches: list[ClockedBatch] = []
    pending: list[str] = []
    clock: float | None = None
    skipped = 0
    for line, epoch in read_nmea_file(path):
        t = zda_time(line)
        if t is not None:
            if pending:
                batches.append(ClockedBatch(clock if clock is not None else t, tuple(pending)))
                pending = []
            clock = t if clock is None else max(clock, t)  # a clock reading never runs the replay backwards
        elif line.startswith("!"):
            pending.append(line if epoch is None else tag_nmea_line(line, epoch, source))
        else:
            skipped += 1
    if clock is None:
        raise ValueError(f"{path}: no $--ZDA clock sentence: the AIS sentences have no receive time")
    if pending:
        batches.append(ClockedBatch(clock, tuple(pending)))
    return batches, skipped


def import_nmea(path: Path | str, out: Path | str, *, source: str = "nmea",
                on_message: Callable[[float], None] | None = None) -> tuple[int, int]:
    """Write an NMEA log's AIS sentences (``clocked_nmea``) as an AIS feed recording at ``out`` (replaced):
    one message per clock interval, receive time = its clock reading. Returns (sentences, messages)."""
    batches, _skipped = clocked_nmea(path, source)
    out = Path(out)
    out.unlink(missing_ok=True)
    topic = AIS_TOPIC_ROOT + source
    with RecordingWriter(out, flush_interval_s=3600.0, fsync=False) as writer:
        for batch in batches:
            writer.append(topic, "\n".join(batch.lines).encode(), 0, False, batch.t)
            if on_message is not None:
                on_message(batch.t)
    return sum(len(b.lines) for b in batches), len(batches)


def recording_positions(recording: Path | str) -> list[AisPosition]:
    """The AIS position reports of a recording, decoded as the service decodes them, in time order (stable)."""
    from fusion.ingest import new_decoders, parse_feed_topic
    from fusion.offline import effective_messages

    decoders = new_decoders()
    out: list[AisPosition] = []
    for m in effective_messages(read_recording(recording)):
        if not m.topic.startswith(AIS_TOPIC_ROOT):
            continue
        _kind, source = parse_feed_topic(m.topic)
        reports, _errors = decoders["ais"].decode(m.payload, source, m.recv_t)
        out.extend(r for r in reports if isinstance(r, AisPosition))
    return sorted(out, key=lambda p: p.t)


def data_area(recording: Path | str, *, margin_deg: float = DEFAULT_MARGIN_DEG) -> DataArea:
    """The box around every position in a recording (decoded as the service decodes it) plus a margin."""
    try:
        return offline_data_area(read_recording(recording), margin_deg=margin_deg)
    except ValueError as err:
        raise ValueError(f"{recording}: {err}") from None


def replay_with_data_area(recording: Path | str, out_dir: Path | str, *, margin_deg: float = DEFAULT_MARGIN_DEG,
                          config: FusionConfig | None = None) -> dict[str, object]:
    """Replay a recording offline (receive times as the clock) in a frame from its own positions, no zones.

    ``config`` defaults to THINNED_AIS_CONFIG (track limits for once-a-minute AIS)."""
    recording, out_dir = Path(recording), Path(out_dir)
    area = data_area(recording, margin_deg=margin_deg)
    fusion = fusion_for_area(area, EMPTY_ZONES, "no-zones", None, config if config is not None else THINNED_AIS_CONFIG)
    reader = read_recording(recording)
    summary = run_to_dir(fusion, ((m.recv_t, m.topic, m.payload) for m in reader), out_dir, EMPTY_ZONES)
    c = summary.counters
    return {"out_dir": str(out_dir), "area": [area.lat_min, area.lat_max, area.lon_min, area.lon_max],
            "messages": summary.messages, "measurements": c.measurements, "ticks": c.ticks,
            "alerts_raised": c.alerts_raised, "rejected": summary.rejected, "late_dropped": c.late_dropped,
            "recording_truncated": bool(reader.truncated), "recording_lost_bytes": int(reader.lost_bytes)}


@dataclass(frozen=True)
class VesselContinuity:
    """How one vessel's reports map to tracks: ``track_ids[i]`` carries its MMSI after report i (None: no track)."""

    mmsi: int
    report_times: tuple[float, ...]
    track_ids: tuple[int | None, ...]
    longest_gap_s: float

    @property
    def continuous(self) -> bool:
        """Every report maps to the same single track."""
        return None not in self.track_ids and len(set(self.track_ids)) == 1

    @property
    def tracks(self) -> int:
        """Distinct tracks its reports map to (0: none)."""
        return len({i for i in self.track_ids if i is not None})

    @property
    def coverage(self) -> float:
        """Share of its reports that map to its most frequent track (the best track's coverage)."""
        mapped = [i for i in self.track_ids if i is not None]
        return max(mapped.count(i) for i in set(mapped)) / len(self.track_ids) if mapped else 0.0


def vessel_continuity(positions: Iterable[AisPosition], tracks_jsonl: Path | str, *, min_reports: int = 10,
                      lag_s: float | None = None) -> list[VesselContinuity]:
    """For each MMSI with at least ``min_reports`` reports: the track carrying that MMSI at the first
    output tick at least ``lag_s`` after each report (default: re-order window + one output interval
    of the default FusionConfig, by when the report has been processed; the last tick for reports
    closer than that to the end of the run). A report maps to None when no
    track, or more than one, carries its MMSI there."""
    if lag_s is None:
        lag_s = FusionConfig().reorder_window_s + FusionConfig().output_interval_s
    decoder = msgspec.json.Decoder(_TrackRow)
    at: dict[float, dict[int, set[int]]] = defaultdict(dict)
    ticks: set[float] = set()
    with Path(tracks_jsonl).open("rb") as f:
        for line in f:
            row = decoder.decode(line)
            ticks.add(row.t)
            if row.mmsi is not None:
                at[row.t].setdefault(row.mmsi, set()).add(row.track_id)
    grid = sorted(ticks)
    by_mmsi: dict[int, list[float]] = defaultdict(list)
    for p in positions:
        by_mmsi[p.mmsi].append(p.t)
    out = []
    for mmsi, times in sorted(by_mmsi.items()):
        if len(times) < min_reports:
            continue
        times.sort()
        ids: list[int | None] = []
        for t in times:
            i = min(bisect.bisect_left(grid, t + lag_s), len(grid) - 1)  # reports at the very end: the last tick
            carriers = at[grid[i]].get(mmsi, set()) if grid and grid[i] >= t else set()
            ids.append(next(iter(carriers)) if len(carriers) == 1 else None)
        gap = max((b - a for a, b in pairwise(times)), default=0.0)
        out.append(VesselContinuity(mmsi, tuple(times), tuple(ids), gap))
    return out


def continuity_summary(vessels: Sequence[VesselContinuity]) -> dict[str, object]:
    """Counts for a report: vessels, continuous ones, mean tracks per vessel and best-track coverage
    (as ``fusion.evaluation`` scores simulated objects), and per broken vessel its tracks and longest report gap."""
    broken = [v for v in vessels if not v.continuous]
    return {
        "vessels": len(vessels),
        "continuous": len(vessels) - len(broken),
        "fraction": round((len(vessels) - len(broken)) / len(vessels), 4) if vessels else None,
        "tracks_per_vessel": round(sum(v.tracks for v in vessels) / len(vessels), 4) if vessels else None,
        "coverage": round(sum(v.coverage for v in vessels) / len(vessels), 4) if vessels else None,
        "broken": [{"mmsi": v.mmsi, "reports": len(v.report_times), "track_ids": sorted({i for i in v.track_ids if i is not None}),
                    "unmapped_reports": v.track_ids.count(None), "longest_gap_s": v.longest_gap_s} for v in broken],
    }


class _TrackRow(msgspec.Struct):
    t: float
    track_id: int
    mmsi: int | None = None


class _AlertRow(msgspec.Struct):
    t: float
    alert_id: str
    rule: str
    state: str
    mmsi: int | None = None
    reason: str = ""
    evidence: dict[str, float | str | bool | None] = {}


CLAIM_SLACK_S = 1.0
"""Time slack of ``ais_gap_claim_holds``: receive times of the real data are whole seconds (MarineCadastre) or
a clock read once a second (the AMSA stream's ZDA), so a silence is checked to within one second."""


def ais_gap_claim_holds(t: float, evidence: Mapping[str, object], report_times: Sequence[float],
                        reports_ll: Sequence[tuple[float, float]], *, lag_s: float | None = None) -> bool:
    """Whether an ais_gap alert raised at ``t`` (s) states what the input data really hold for its MMSI.

    ``report_times`` (R,) are the MMSI's input report times in order (s), ``reports_ll`` (R,) their (lat, lon)
    (deg). A silence of ``evidence["ais_silent_s"]`` holds when no report of the MMSI lies in
    (t - silent + CLAIM_SLACK_S, t - lag_s], ``lag_s`` (default: the re-order window + 1 s) being the reports
    the service could not yet have processed at t. A jump of ``evidence["reach_m"]`` holds when two successive
    reports up to t lie farther apart than that reach (great-circle distance)."""
    if lag_s is None:
        lag_s = FusionConfig().reorder_window_s + CLAIM_SLACK_S
    reach = _number(evidence, "reach_m")
    if _number(evidence, "jump_m") is not None and reach is not None:
        upto = bisect.bisect_right(report_times, t)
        return any(_distance_m(reports_ll[i], reports_ll[i + 1]) > reach for i in range(upto - 1))
    silent = _number(evidence, "ais_silent_s")
    if silent is None:
        return False
    lo = bisect.bisect_right(report_times, t - silent + CLAIM_SLACK_S)
    hi = bisect.bisect_right(report_times, t - lag_s)
    return hi <= lo


def _number(evidence: Mapping[str, object], key: str) -> float | None:
    """``evidence[key]`` when it is a finite number (not a flag), else None."""
    v = evidence.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (m) between two (lat, lon) points in degrees (WGS84 ellipsoid)."""
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(a[1], a[0], b[1], b[0])[2])


# The rules whose claim is a property of the AIS data alone, with the function that checks it on the input.
CLAIM_CHECKS: dict[str, Callable[..., bool]] = {"ais_gap": ais_gap_claim_holds}


def real_ais_figures(positions: Sequence[AisPosition], out_dir: Path | str, *,
                     min_reports: Sequence[int] = (1, 5, 10)) -> dict[str, object]:
    """Issue 14's done-criterion figures for a replay of real AIS into ``out_dir`` (tracks.jsonl, alerts.jsonl).

    ``positions``: the reports the replay accepted (inside its area). Every vessel (MMSI) is presumed benign
    and there is no labelled suspect (recall is undefined). An alert is false unless its rule's claim is a
    property of the data that the input shows (``CLAIM_CHECKS``: an ais_gap silence or jump that the MMSI's
    reports really have); per rule: alerts raised, claims that hold, false alerts, and false alerts per 10
    vessels per day (days = the reports' time span / 86,400 s). Tracks per MMSI, per ``min_reports``: the
    ``vessel_continuity`` tracks of each vessel with at least that many reports (mean, max, vessels on more than
    one track, vessels on none), and the tracks carrying more than one MMSI over the run (identity swaps)."""
    out_dir = Path(out_dir)
    by_mmsi: dict[int, list[AisPosition]] = defaultdict(list)
    for p in positions:
        by_mmsi[p.mmsi].append(p)
    for reports in by_mmsi.values():
        reports.sort(key=lambda p: p.t)
    span_s = max(p.t for p in positions) - min(p.t for p in positions) if positions else 0.0
    days = span_s / 86400.0
    vessels = len(by_mmsi)
    counts: dict[str, _RuleCount] = defaultdict(_RuleCount)
    decoder = msgspec.json.Decoder(_AlertRow)
    with (out_dir / "alerts.jsonl").open("rb") as f:
        raised = [row for row in map(decoder.decode, f) if row.state == "raised"]
    for row in raised:
        reports = by_mmsi.get(row.mmsi, []) if row.mmsi is not None else []
        check = CLAIM_CHECKS.get(row.rule)
        holds = check is not None and bool(reports) and check(row.t, row.evidence, [p.t for p in reports],
                                                                [(p.lat, p.lon) for p in reports])
        c = counts[row.rule]
        c.alerts += 1
        if holds:
            c.claim_holds += 1
        else:
            c.false_alerts.append({"alert_id": row.alert_id, "t": row.t, "mmsi": row.mmsi, "reason": row.reason})
    total_false = sum(len(c.false_alerts) for c in counts.values())
    rules = {rule: {"alerts": c.alerts, "claim_holds": c.claim_holds, "false": len(c.false_alerts),
                    "false_per_10_vessels_per_day": _per_10_per_day(len(c.false_alerts), vessels, days),
                    "false_alerts": c.false_alerts} for rule, c in sorted(counts.items())}
    tracks: dict[str, object] = {}
    for n in min_reports:
        continuity = vessel_continuity(positions, out_dir / "tracks.jsonl", min_reports=n)
        per_vessel = [v.tracks for v in continuity]
        tracked = [k for k in per_vessel if k > 0]
        tracks[f"min_reports_{n}"] = {
            "vessels": len(per_vessel), "untracked": len(per_vessel) - len(tracked),
            "tracks_per_vessel": round(sum(tracked) / len(tracked), 4) if tracked else None,
            "max": max(per_vessel, default=0), "on_more_than_one_track": sum(k > 1 for k in per_vessel)}
    return {"vessels": vessels, "reports": len(positions), "span_s": span_s, "suspects": 0, "recall": None,
            "alerts": len(raised), "false_alerts": total_false,
            "false_per_10_vessels_per_day": _per_10_per_day(total_false, vessels, days), "by_rule": rules,
            "tracks_per_mmsi": tracks, "tracks_with_two_mmsi": _tracks_with_two_mmsi(out_dir / "tracks.jsonl")}


@dataclass
class _RuleCount:
    """One rule's raised alerts on real data: how many, how many state what the data hold, the false ones."""

    alerts: int = 0
    claim_holds: int = 0
    false_alerts: list[dict[str, object]] = dataclasses.field(default_factory=list)


def _per_10_per_day(false: int, vessels: int, days: float) -> float | None:
    """False alerts per 10 vessels per day (None without vessels or time)."""
    return round(10.0 * false / (vessels * days), 4) if vessels and days > 0 else None


def _tracks_with_two_mmsi(tracks_jsonl: Path) -> int:
    """Tracks whose rows carried more than one MMSI over the run (an identity swap or a merge of two vessels)."""
    decoder = msgspec.json.Decoder(_TrackRow)
    seen: dict[int, set[int]] = defaultdict(set)
    with tracks_jsonl.open("rb") as f:
        for line in f:
            row = decoder.decode(line)
            if row.mmsi is not None:
                seen[row.track_id].add(row.mmsi)
    return sum(len(m) > 1 for m in seen.values())


def is_nmea_log(path: Path | str) -> bool:
    """Whether a file (plain or gzip) is an NMEA log (first line a ``!``/``$`` sentence or a ``\\`` tag block),
    not a MarineCadastre CSV."""
    first = next(iter(read_nmea_file(path)), None)
    return first is not None and first[0][:1] in ("!", "$", "\\")


def accepted_positions(recording: Path | str, area: Sequence[float]) -> list[AisPosition]:
    """The recording's AIS positions (``recording_positions``) inside ``area`` = [lat_min, lat_max, lon_min,
    lon_max] (deg, a replay summary's "area") grown by the ingest's AREA_MARGIN_DEG: the reports a replay over
    that area accepts."""
    from fusion.ingest import AREA_MARGIN_DEG as m

    lat_min, lat_max, lon_min, lon_max = area
    return [p for p in recording_positions(recording)
            if lat_min - m <= p.lat <= lat_max + m and lon_min - m <= p.lon <= lon_max + m]


def replay_real(recording: Path | str, out_dir: Path | str, deployment: Path | str | None) -> dict[str, object]:
    """Replay as ``jisf replay RECORDING -o DIR --deployment FILE`` (area, zones, receivers, rules, tracker of the
    deployment; the area from the data where it has none); without a deployment ``replay_with_data_area``
    (THINNED_AIS_CONFIG, no zones). Returns the replay summary."""
    if deployment is None:
        return replay_with_data_area(recording, out_dir)
    from fusion.deployment import load_deployment
    from fusion.offline import replay_recording

    return replay_recording(Path(recording), Path(out_dir), deployment=load_deployment(Path(deployment)))


def replay_and_figures(recording: Path | str, out_dir: Path | str, deployment: Path | str | None) -> dict[str, object]:
    """``replay_real`` then, on the reports it accepted, ``continuity`` (vessels with at least ten reports) and the
    done-criterion ``figures`` (``real_ais_figures``): what ``import-ais --replay`` prints."""
    replay = replay_real(recording, out_dir, deployment)
    area = replay["area"]
    if not isinstance(area, list):
        raise TypeError(f"replay summary area {area!r}: not a [lat_min, lat_max, lon_min, lon_max] list")
    positions = accepted_positions(recording, area)
    return {"replay": replay,
            "continuity": continuity_summary(vessel_continuity(positions, Path(out_dir) / "tracks.jsonl")),
            "figures": real_ais_figures(positions, out_dir)}


def build_parser() -> argparse.ArgumentParser:
    """Options of ``jisf import-ais``."""
    p = cliutil.parser("import-ais", "AIS data (MarineCadastre CSV or an NMEA log) -> jisf recording (AIS feed messages)")
    p.add_argument("csv", help="MarineCadastre AIS CSV, or an NMEA 0183 log timed by $--ZDA sentences (plain or gzip)")
    p.add_argument("-o", "--output", required=True, help="recording to write (replaced if it exists)")
    p.add_argument("--source", default=MARINECADASTRE_SOURCE, help="AIS source name in the topic (default %(default)s)")
    p.add_argument("--format", choices=("auto", "marinecadastre", "nmea"), default="auto",
                   help="input format (default: an NMEA log when the first line is a sentence, else the CSV)")
    p.add_argument("--first-s", type=float, help="CSV: import only the first this many seconds of the data")
    p.add_argument("--replay", metavar="DIR",
                   help="also replay the recording into DIR and print track continuity and the done-criterion figures")
    p.add_argument("--deployment", help="with --replay: replay as `jisf replay --deployment FILE` (its area, zones, "
                                        "receivers, rules, tracker; docs/DEPLOYMENT.md; env JISF_DEPLOYMENT); "
                                        "default: area from the data, no zones, THINNED_AIS_CONFIG")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``CSV -o RECORDING [--source NAME] [--replay DIR]``; prints a JSON summary, returns the exit code."""

    def body(args: argparse.Namespace) -> int:
        nmea = args.format == "nmea" or (args.format == "auto" and is_nmea_log(args.csv))
        result: dict[str, object] = {"recording": args.output, "format": "nmea" if nmea else "marinecadastre"}
        with cliutil.time_progress(args, desc="import-ais") as advance:
            if nmea:
                sentences, messages = import_nmea(args.csv, args.output, source=args.source, on_message=advance)
                result |= {"sentences": sentences, "messages": messages}
            else:
                s = import_marinecadastre(args.csv, args.output, source=args.source, first_s=args.first_s,
                                          on_message=advance)
                result |= {"positions": s.positions, "messages": s.messages, "vessels": s.vessels,
                           "t_first": s.t_first, "t_last": s.t_last}
        if args.replay:
            from fusion.deployment import deployment_path

            result |= replay_and_figures(args.output, args.replay, deployment_path(args.deployment))
        print(json.dumps(result))
        return 0

    return cliutil.run(build_parser(), body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
