"""``jisf archive``, ``jisf history`` and ``jisf export``: fill, query and export the history store.

    jisf archive --broker URL --store URL [--thin-s 30]
    jisf history --store URL [--mmsi N | --icao HEX | --track ID | --bbox W,S,E,N] [--since T] [--until T] [--alerts] [--json]
    jisf history --store URL --load DIR [--thin-s 30]
    jisf export kml|geojson --store URL [--since T] [--until T] [--track ID | --mmsi N | --icao HEX] [--zones FILE] -o FILE

Times (``--since``/``--until``) are ISO 8601 (UTC unless an offset is given) or Unix seconds.
The store URL can also come from ``JISF_STORE``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fusion import cliutil
from fusion.cli import broker_address, broker_args, stop_on_signals
from fusion.history.export import iso_utc, read_zones, write_export
from fusion.history.recorder import HistoryRecorder, RecorderStats, decode_object
from fusion.history.store import HistoryDataError, HistoryStore, open_store
from fusion.mqtt import BrokerAddress, Link
from fusion.publish import ALERTS_FILTER, TRACKS_FILTER

log = logging.getLogger("jisf.history")


# -- archive ---------------------------------------------------------------------------------
async def archive(addr: BrokerAddress, recorder: HistoryRecorder, stop: asyncio.Event, *, client_id: str | None = None,
                  persistent: bool = False, flush_s: float = 1.0, connected: asyncio.Event | None = None,
                  on_state: Callable[[str], None] | None = None) -> RecorderStats:
    """Subscribe to tracks and alerts and feed ``recorder`` until ``stop``; writes every ``flush_s`` and at the end.

    ``connected`` is set once the link is up; ``on_state(line)`` hears each change of the connection. Alerts are subscribed before tracks, so once a
    retained track message has arrived the alert subscription is in place. On stop the
    recorder's pending tails (each live track's newest point) are written too.
    """
    link = Link(addr, client_id, subscriptions=((ALERTS_FILTER, 1), (TRACKS_FILTER, 1)),
                on_message=lambda topic, payload, _qos, _retain: recorder.on_message(topic, payload), clean_session=not persistent,
                on_state=on_state)

    async def flush_periodically() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=flush_s)
            try:
                recorder.flush()
            except Exception as err:  # noqa: BLE001 - a store outage must not end the archive: retried next time
                recorder.stats.write_errors += 1
                log.warning("history store write failed: %s", err)

    async def announce() -> None:
        await link.connected.wait()
        if connected is not None:
            connected.set()

    tasks = [asyncio.create_task(flush_periodically()), asyncio.create_task(announce())]
    try:
        await link.run(stop)
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        recorder.finish()
    return recorder.stats


def build_parser_archive() -> argparse.ArgumentParser:
    """Options of ``jisf archive`` (fusion.cliutil: each also JISF_<OPTION> or JISF_ARCHIVE_<OPTION>)."""
    p = cliutil.parser("archive", "subscribe to tracks and alerts and write history")
    broker_args(p, required=True)
    _store_arg(p)
    _thin_arg(p)
    p.add_argument("--client-id", help="MQTT client id (env JISF_ARCHIVE_CLIENT_ID)")
    p.add_argument("--persistent", action="store_true", help="persistent session: alerts raised while away arrive on return (needs --client-id)")
    return p


def main_archive(argv: Sequence[str]) -> int:
    """``jisf archive``: record tracks and alerts from a broker into the history store."""
    p = build_parser_archive()

    def body(args: argparse.Namespace) -> int:
        if args.persistent and not args.client_id:
            p.error("--persistent needs --client-id")
        cliutil.setup_logging(max(args.verbose, 1))  # info by default: the archive's own progress lines
        return _archive(p, args)

    return cliutil.run(p, body, argv, logs=False)


def _archive(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    addr = broker_address(args)
    with _open(p, args.store) as store:
        recorder = HistoryRecorder(store, args.thin_s)

        async def run() -> RecorderStats:
            stop = asyncio.Event()
            with stop_on_signals(asyncio.get_running_loop(), stop):
                return await archive(addr, recorder, stop, client_id=args.client_id, persistent=args.persistent,
                                     on_state=cliutil.state_printer("jisf archive"))

        print(f"archive: {addr.url()} -> {_safe_url(args.store)}, thin {args.thin_s:g} s", flush=True)
        stats = asyncio.run(run())
        print(json.dumps(stats.as_dict()), flush=True)
    return 0


# -- history ---------------------------------------------------------------------------------
def build_parser_history() -> argparse.ArgumentParser:
    """Options of ``jisf history``."""
    p = cliutil.parser("history", "query the history store, or load an evaluate/replay output directory")
    _store_arg(p)
    _filter_args(p)
    p.add_argument("--bbox", type=_bbox, help="area W,S,E,N in degrees (write --bbox=-80,9,-78,11 when W is negative)")
    p.add_argument("--alerts", action="store_true", help="print alert events instead of track points")
    p.add_argument("--rule", help="with --alerts: only this rule")
    p.add_argument("--limit", type=int, help="at most this many (the earliest)")
    p.add_argument("--json", action="store_true", help="one JSON object per line (the stored fields plus 'time', ISO UTC)")
    p.add_argument("--load", metavar="DIR", type=Path, help="import tracks.jsonl and alerts.jsonl of DIR (thinned) instead of querying")
    _thin_arg(p)
    return p


def main_history(argv: Sequence[str]) -> int:
    """``jisf history``: print a track's or an area's points, or alerts; or ``--load`` an output directory."""
    p = build_parser_history()
    return cliutil.run(p, lambda args: _history(p, args), argv)


def _history(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    with _open(p, args.store) as store:
        if args.load is not None:
            print(json.dumps(load_directory(store, args.load, args.thin_s).as_dict()))
            return 0
        if args.alerts:
            if args.mmsi is not None or args.icao is not None or args.bbox is not None:
                p.error("--alerts filters by --track, --rule, --since and --until only")
            rows = store.alerts(since=args.since, until=args.until, rule=args.rule, track_id=args.track, limit=args.limit)
        else:
            rows = store.track_history(track_id=args.track, mmsi=args.mmsi, icao24=args.icao, bbox=args.bbox,
                                       since=args.since, until=args.until, limit=args.limit)
        try:
            for r in rows:
                print(json.dumps({"time": iso_utc(float(r["t"])), **r}) if args.json else (_alert_line(r) if args.alerts else _point_line(r)))
            sys.stdout.flush()
        except BrokenPipeError:  # `jisf history ... | head`: the reader had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not rows and not args.json:
            print("no matching alerts" if args.alerts else "no matching track points", file=sys.stderr)
    return 0


def load_directory(store: HistoryStore, out_dir: Path, thin_s: float) -> RecorderStats:
    """Import ``out_dir``/tracks.jsonl and alerts.jsonl with the recorder's thinning.

    Tentative tracks are skipped, as the live service does not publish them; each
    track's last point is kept. Bad lines are counted (``bad``, ``last_error``), not fatal.
    """
    files = [out_dir / "tracks.jsonl", out_dir / "alerts.jsonl"]
    if not any(f.is_file() for f in files):
        raise FileNotFoundError(f"{out_dir}: neither tracks.jsonl nor alerts.jsonl found")
    recorder = HistoryRecorder(store, thin_s)
    for path, what, add in zip(files, ("track", "alert"), (recorder.add_track, recorder.add_alert), strict=True):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = decode_object(line, what)
                    if what == "track" and row.get("status") == "tentative":
                        continue
                    add(row)
                except HistoryDataError as err:
                    recorder.count_bad(f"{path}:{lineno}", err)
                if recorder.queued >= recorder.batch_rows:
                    recorder.flush()
    recorder.finish()
    return recorder.stats


def _point_line(r: dict[str, Any]) -> str:
    ident = " ".join(f"{k} {r[k]}" for k in ("mmsi", "icao24", "name") if r.get(k) is not None)
    alt = f" alt {r['alt_m']:.0f} m" if isinstance(r.get("alt_m"), float) else ""
    return (f"{iso_utc(float(r['t']))}  track {r['track_id']} {r['domain']} {r['status']}  "
            f"{r['lat']:.5f} {r['lon']:.5f}{alt}  {ident}").rstrip()


def _alert_line(a: dict[str, Any]) -> str:
    zone = f" zone {a['zone']}" if a.get("zone") else ""
    return (f"{iso_utc(float(a['t']))}  {a['rule']} {a['severity']} {a['state']}  track {a['track_id']}{zone}  "
            f"{a['reason']}  ({a['alert_id']})")


# -- export ----------------------------------------------------------------------------------
def build_parser_export() -> argparse.ArgumentParser:
    """Options of ``jisf export``."""
    p = cliutil.parser("export", "export history as KML (Google Earth) or GeoJSON")
    p.add_argument("format", choices=["kml", "geojson"])
    _store_arg(p)
    _filter_args(p)
    p.add_argument("--zones", type=Path, help="zones to draw: a GeoJSON zones file (e.g. DIR/zones.geojson) or a scenario .toml")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file")
    return p


def main_export(argv: Sequence[str]) -> int:
    """``jisf export kml|geojson``: track lines, alert points and zones for Google Earth or GIS tools."""
    p = build_parser_export()
    return cliutil.run(p, lambda args: _export(p, args), argv)


def _export(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    zones = None
    if args.zones is not None:
        try:
            zones = read_zones(args.zones)
        except (ValueError, OSError) as err:
            p.error(f"--zones: {err}")
    with _open(p, args.store) as store:
        points = store.track_history(track_id=args.track, mmsi=args.mmsi, icao24=args.icao, since=args.since, until=args.until)
        alerts = store.alerts(since=args.since, until=args.until)
        if args.track is not None or args.mmsi is not None or args.icao is not None:
            ids = {r["track_id"] for r in points}
            alerts = [a for a in alerts if a["track_id"] in ids]
        counts = write_export(args.format, args.output, points, alerts, zones)
    print(json.dumps({"output": str(args.output), **counts}))
    return 0


# -- shared ----------------------------------------------------------------------------------
def parse_time(text: str) -> float:
    """ISO 8601 (UTC when no offset is given; a trailing Z allowed) or Unix seconds -> Unix seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"time must be ISO 8601 (2024-03-14T06:00:00Z) or Unix seconds, got {text!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _bbox(text: str) -> tuple[float, float, float, float]:
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be W,S,E,N degrees, got {text!r}") from None
    return w, s, e, n


def _icao(text: str) -> str:
    t = text.strip().lower()
    if len(t) != 6 or any(c not in "0123456789abcdef" for c in t):
        raise argparse.ArgumentTypeError(f"ICAO address must be 6 hex digits, got {text!r}")
    return t


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True,
                   help="history store: sqlite:///PATH.db or postgresql://user@host:port/db (env JISF_STORE)")


def _thin_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--thin-s", type=float, default=30.0, help="keep at most one point per track per this many seconds (default 30)")


def _filter_args(p: argparse.ArgumentParser) -> None:
    who = p.add_mutually_exclusive_group()
    who.add_argument("--track", type=int, help="track id")
    who.add_argument("--mmsi", type=int, help="vessel MMSI")
    who.add_argument("--icao", type=_icao, help="aircraft ICAO 24-bit address, 6 hex digits")
    p.add_argument("--since", type=parse_time, help="from this time (ISO 8601 UTC or Unix seconds)")
    p.add_argument("--until", type=parse_time, help="up to this time (ISO 8601 UTC or Unix seconds)")


def _safe_url(url: str) -> str:
    """The store URL without a password."""
    head, sep, tail = url.partition("://")
    return f"{head}{sep}{tail.rsplit('@', 1)[-1]}" if "@" in tail else url


@contextlib.contextmanager
def _open(p: argparse.ArgumentParser, url: str) -> Iterator[HistoryStore]:
    try:
        store = open_store(url)
    except (ValueError, ConnectionError) as err:
        p.exit(2, f"{p.prog}: --store {_safe_url(url)}: {err}\n")
    try:
        yield store
    finally:
        store.close()
