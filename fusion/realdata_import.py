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
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


def build_parser() -> argparse.ArgumentParser:
    """Options of ``jisf import-ais``."""
    p = cliutil.parser("import-ais", "MarineCadastre AIS CSV -> jisf recording (AIS NMEA feed messages)")
    p.add_argument("csv", help="MarineCadastre AIS CSV (plain or gzip)")
    p.add_argument("-o", "--output", required=True, help="recording to write (replaced if it exists)")
    p.add_argument("--source", default=MARINECADASTRE_SOURCE, help="AIS source name in the topic (default %(default)s)")
    p.add_argument("--first-s", type=float, help="import only the first this many seconds of the data")
    p.add_argument("--replay", metavar="DIR",
                   help="also replay the recording into DIR (area from the data, no zones) and report track continuity")
    p.add_argument("--deployment", help="with --replay: a deployment file whose [tracker] settings the replay uses "
                                        "(docs/DEPLOYMENT.md; env JISF_DEPLOYMENT); default: THINNED_AIS_CONFIG")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``CSV -o RECORDING [--source NAME] [--replay DIR]``; prints a JSON summary, returns the exit code."""

    def body(args: argparse.Namespace) -> int:
        with cliutil.time_progress(args, desc="import-ais") as advance:
            s = import_marinecadastre(args.csv, args.output, source=args.source, first_s=args.first_s,
                                      on_message=advance)
        result: dict[str, object] = {"recording": args.output, "positions": s.positions, "messages": s.messages,
                                     "vessels": s.vessels, "t_first": s.t_first, "t_last": s.t_last}
        if args.replay:
            from fusion.deployment import deployment_path, load_deployment

            path = deployment_path(args.deployment)
            config = load_deployment(path).fusion_config if path is not None else None
            result["replay"] = replay_with_data_area(args.output, args.replay, config=config)
            result["continuity"] = continuity_summary(
                vessel_continuity(read_positions(args.csv, source=args.source, first_s=args.first_s),
                                  Path(args.replay) / "tracks.jsonl"))
        print(json.dumps(result))
        return 0

    return cliutil.run(build_parser(), body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
