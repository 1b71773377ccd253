"""The history store: track points and alert events in SQLite or PostgreSQL, one schema.

``open_store(url)`` picks the backend from the URL:

- ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``
  or a plain file path: SQLite (the standard library's ``sqlite3``), WAL journal.
- ``postgresql://user@host:port/db?options=-csearch_path%3Dmyschema`` (or
  ``postgres://``): PostgreSQL through psycopg 3; every libpq URI parameter passes
  through, plus ``postgis=auto|on|off`` (default auto: a geometry column and a GiST
  index where the PostGIS extension is installed or can be created).

Both backends share the table and index definitions below and the query builder; they
differ only in how a batch is inserted (SQLite ``executemany`` with ``INSERT OR IGNORE``;
PostgreSQL ``COPY`` into a temporary table, then ``INSERT ... ON CONFLICT DO NOTHING``,
about 5x faster than ``executemany``) and in the bounding-box predicate (PostGIS ``&&``
on the geometry, or lat/lon ranges on a btree). Hand-written over sqlite3 + psycopg
rather than SQLAlchemy Core because the two insert paths that meet the write-speed target
are backend-specific anyway, and the rest is a dozen lines of SQL.

Rows are the JSON objects of the wire contract (``TrackRow`` and ``AlertEvent`` fields):
the named fields go to columns, every other field (``cov_en_m2``, ``sources``,
``callsign``, ``related_track_ids``, ``evidence``, future fields) to a JSON column, and
reads merge them back, so nothing is lost. Times are Unix seconds (float, UTC).
Duplicates (the same track and time, the same alert id, state and time: retained and
QoS 1 messages are redelivered on reconnect) are ignored.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

TRACK_COLUMNS: tuple[str, ...] = (
    "t", "track_id", "domain", "status", "lat", "lon", "alt_m", "vel_e_mps", "vel_n_mps", "mmsi", "icao24", "name")
ALERT_COLUMNS: tuple[str, ...] = (
    "t", "alert_id", "rule", "severity", "state", "track_id", "lat", "lon", "zone", "mmsi", "icao24", "reason")
_TRACK_REQUIRED = frozenset({"t", "track_id", "domain", "status", "lat", "lon"})
_ALERT_REQUIRED = frozenset({"t", "alert_id", "rule", "state", "track_id"})
# column kinds: f float, i integer, s string
_KIND = {"t": "f", "lat": "f", "lon": "f", "alt_m": "f", "vel_e_mps": "f", "vel_n_mps": "f", "track_id": "i", "mmsi": "i"}
_SQL_TYPE = {"sqlite": {"f": "REAL", "i": "INTEGER", "s": "TEXT", "json": "TEXT"},
             "postgresql": {"f": "DOUBLE PRECISION", "i": "BIGINT", "s": "TEXT", "json": "JSON"}}  # json keeps the text as sent (jsonb would turn 7e16 into an integer)
_MAX_INT = 2**63 - 1
_MAX_T = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last time ISO 8601 output can show
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL (odd number of backslashes before u0000)

Record = tuple[Any, ...]  # the column values in TRACK_COLUMNS / ALERT_COLUMNS order, then the extra JSON text or None

log = logging.getLogger("jisf.history")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class HistoryDataError(ValueError):
    """A track row or alert event that cannot be stored; the message names the field and value."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field  # the offending field ("payload" for the whole message, "topic" for its topic)


def _table_ddl(dialect: str) -> list[str]:
    """CREATE TABLE / INDEX statements of the common schema."""
    ty = _SQL_TYPE[dialect]

    def cols(names: Sequence[str], required: frozenset[str], extra: str) -> str:
        body = [f"{c} {ty[_KIND.get(c, 's')]}{' NOT NULL' if c in required else ''}" for c in names]
        return ", ".join([*body, f"{extra} {ty['json']}"])

    return [
        f"CREATE TABLE IF NOT EXISTS track_points ({cols(TRACK_COLUMNS, _TRACK_REQUIRED, 'extra')})",
        f"CREATE TABLE IF NOT EXISTS alerts ({cols(ALERT_COLUMNS, _ALERT_REQUIRED, 'payload')})",
        "CREATE UNIQUE INDEX IF NOT EXISTS track_points_track_t ON track_points (track_id, t)",
        "CREATE INDEX IF NOT EXISTS track_points_mmsi_t ON track_points (mmsi, t) WHERE mmsi IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS track_points_icao_t ON track_points (icao24, t) WHERE icao24 IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS track_points_t ON track_points (t)",
        "CREATE UNIQUE INDEX IF NOT EXISTS alerts_id_state_t ON alerts (alert_id, state, t)",
        "CREATE INDEX IF NOT EXISTS alerts_t ON alerts (t)",
        "CREATE INDEX IF NOT EXISTS alerts_track_t ON alerts (track_id, t)",
    ]


_PLAIN_BBOX_INDEX = "CREATE INDEX IF NOT EXISTS track_points_lat_lon ON track_points (lat, lon)"


def _check(row: Mapping[str, object], name: str, kind: str, required: frozenset[str], what: str) -> object:
    """One column value of ``row``, type-checked (bool is not a number); None when absent and optional."""
    v = row.get(name)
    if v is None:
        if name in required:
            raise HistoryDataError(f"{what}: field {name!r} is required, got {v!r}", name)
        return None
    if kind == "s":
        if not isinstance(v, str) or "\x00" in v or (not v.isascii() and not _utf8(v)):
            # PostgreSQL text holds neither NUL nor lone surrogates: refused on both backends
            raise HistoryDataError(f"{what}: field {name!r} must be a UTF-8 string without NUL characters, got {v!r}", name)
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise HistoryDataError(f"{what}: field {name!r} must be a number, got {v!r}", name)
    if kind == "i":
        if (isinstance(v, float) and not v.is_integer()) or not -_MAX_INT <= v <= _MAX_INT:
            raise HistoryDataError(f"{what}: field {name!r} must be a 64-bit integer, got {v!r}", name)
        return int(v)
    if not math.isfinite(v):
        raise HistoryDataError(f"{what}: field {name!r} must be finite, got {v!r}", name)
    return float(v)


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _record(row: Mapping[str, object], columns: Sequence[str], required: frozenset[str], what: str) -> Record:
    if not isinstance(row, Mapping):
        raise HistoryDataError(f"{what}: must be a JSON object, got {type(row).__name__}", "payload")
    values = [_check(row, c, _KIND.get(c, "s"), required, what) for c in columns]
    if not 0.0 <= values[0] <= _MAX_T:  # type: ignore[operator]  # t: required, checked numeric above
        raise HistoryDataError(f"{what}: field 't' must be Unix seconds from 1970 to 9999, got {row.get('t')!r}", "t")
    lat, lon = row.get("lat"), row.get("lon")
    if lat is not None and not -90.0 <= float(lat) <= 90.0:  # type: ignore[arg-type]  # checked numeric above
        raise HistoryDataError(f"{what}: field 'lat' must be in [-90, 90], got {lat!r}", "lat")
    if lon is not None and not -180.0 <= float(lon) <= 180.0:  # type: ignore[arg-type]  # checked numeric above
        raise HistoryDataError(f"{what}: field 'lon' must be in [-180, 180], got {lon!r}", "lon")
    extra = {k: v for k, v in row.items() if k not in columns}
    try:
        text = _encode(extra).decode() if extra else None
    except (TypeError, UnicodeEncodeError, msgspec.EncodeError) as err:
        raise HistoryDataError(f"{what}: extra fields {sorted(extra)} are not JSON-encodable: {err}", "extra") from err
    if text is not None and _JSON_NUL.search(text):  # nor can PostgreSQL jsonb
        raise HistoryDataError(f"{what}: extra fields {sorted(extra)} hold a NUL character", "extra")
    values.append(text)
    return tuple(values)


def track_record(row: Mapping[str, object]) -> Record:
    """A track row (tracks.jsonl / track topic fields) as a validated record; HistoryDataError if not storable."""
    return _record(row, TRACK_COLUMNS, _TRACK_REQUIRED, f"track row {row.get('track_id', '?')!r}" if isinstance(row, Mapping) else "track row")


def alert_record(event: Mapping[str, object]) -> Record:
    """An alert event (alerts.jsonl / alert topic fields) as a validated record; HistoryDataError if not storable."""
    return _record(event, ALERT_COLUMNS, _ALERT_REQUIRED, f"alert {event.get('alert_id', '?')!r}" if isinstance(event, Mapping) else "alert")


def _as_dict(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """A stored row back as the wire object: the columns, then the JSON column's fields."""
    out = dict(zip(columns, values[:-1], strict=True))
    extra = values[-1]
    if extra is not None:
        out.update(_decode(extra) if isinstance(extra, str | bytes) else extra)
    return out


def _finite_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    if len(bbox) != 4:
        raise ValueError(f"bbox must be (west, south, east, north), got {bbox!r}")
    w, s, e, n = (float(v) for v in bbox)
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise ValueError(f"bbox must be (west, south, east, north) in degrees with south <= north, got {bbox!r}")
    return w, s, e, n


@dataclass
class _Where:
    """A WHERE clause under construction, with %s placeholders."""

    terms: list[str]
    params: list[object]

    def add(self, sql: str, *params: object) -> None:
        self.terms.append(sql)
        self.params.extend(params)

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.terms)}" if self.terms else ""


class HistoryStore:
    """Track points and alert events in one database (see the module docstring for URLs).

    Thread-safe: one connection, serialised by a lock.
    """

    dialect = "sqlite"
    _json_text = "{}"  # how a select reads the JSON column as text

    def __init__(self, conn: Any, url: str) -> None:
        self._conn = conn
        self.url = url
        self._lock = threading.Lock()
        self.postgis = False  # PostgreSQL with a PostGIS geometry column
        self._gis = "public"  # the PostGIS extension's schema

    # -- writing -----------------------------------------------------------------------------
    def write_tracks(self, rows: Sequence[Mapping[str, object]]) -> int:
        """Store track rows; returns how many were new. HistoryDataError (nothing written) if a row is bad."""
        return self.write_track_records([track_record(r) for r in rows])

    def write_alerts(self, events: Sequence[Mapping[str, object]]) -> int:
        """Store alert events; returns how many were new. HistoryDataError (nothing written) if one is bad."""
        return self.write_alert_records([alert_record(e) for e in events])

    def write_track_records(self, records: Sequence[Record]) -> int:
        """Store records made by ``track_record``; returns how many were new."""
        return self._insert("track_points", (*TRACK_COLUMNS, "extra"), records) if records else 0

    def write_alert_records(self, records: Sequence[Record]) -> int:
        """Store records made by ``alert_record``; returns how many were new."""
        return self._insert("alerts", (*ALERT_COLUMNS, "payload"), records) if records else 0

    def _ready(self) -> None:
        """Called under the lock before each statement: the PostgreSQL store reconnects here."""

    def _insert(self, table: str, columns: Sequence[str], records: Sequence[Record]) -> int:
        with self._lock, self._conn:
            before = self._conn.total_changes
            self._conn.executemany(
                f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", records)
            return int(self._conn.total_changes - before)

    # -- reading -----------------------------------------------------------------------------
    def track_history(self, *, track_id: int | None = None, mmsi: int | None = None, icao24: str | None = None,
                      bbox: Sequence[float] | None = None, since: float | None = None, until: float | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
        """Track points matching every given filter, ordered by time (then track id); the first ``limit`` of them.

        ``bbox`` is (west, south, east, north) in degrees (west > east crosses the antimeridian);
        ``since``/``until`` are inclusive Unix seconds.
        """
        w = _Where([], [])
        if track_id is not None:
            w.add("track_id = %s", int(track_id))
        if mmsi is not None:
            w.add("mmsi = %s", int(mmsi))
        if icao24 is not None:
            w.add("icao24 = %s", icao24.lower())
        if bbox is not None:
            self._bbox(w, *_finite_bbox(bbox))
        self._time(w, since, until)
        return [_as_dict(TRACK_COLUMNS, r) for r in self._select("track_points", (*TRACK_COLUMNS, "extra"), w, "t, track_id", limit)]

    def alerts(self, *, since: float | None = None, until: float | None = None, rule: str | None = None,
               track_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Alert events matching every given filter, ordered by time (then alert id); the first ``limit``."""
        w = _Where([], [])
        if rule is not None:
            w.add("rule = %s", rule)
        if track_id is not None:
            w.add("track_id = %s", int(track_id))
        self._time(w, since, until)
        return [_as_dict(ALERT_COLUMNS, r) for r in self._select("alerts", (*ALERT_COLUMNS, "payload"), w, "t, alert_id", limit)]

    def counts(self) -> dict[str, int]:
        """Rows per table: {"track_points": N, "alerts": M}."""
        with self._lock:
            self._ready()
            cur = self._conn.cursor()
            out = {}
            for table in ("track_points", "alerts"):
                cur.execute(f"SELECT count(*) FROM {table}")
                out[table] = int(cur.fetchone()[0])
            return out

    @staticmethod
    def _time(w: _Where, since: float | None, until: float | None) -> None:
        if since is not None:
            w.add("t >= %s", float(since))
        if until is not None:
            w.add("t <= %s", float(until))

    def _bbox(self, w: _Where, west: float, south: float, east: float, north: float) -> None:
        w.add("lat BETWEEN %s AND %s", south, north)
        if west <= east:
            w.add("lon BETWEEN %s AND %s", west, east)
        else:
            w.add("(lon >= %s OR lon <= %s)", west, east)

    def _select(self, table: str, columns: Sequence[str], where: _Where, order: str, limit: int | None) -> list[Sequence[Any]]:
        names = [*columns[:-1], self._json_text.format(columns[-1])]  # the JSON column comes last
        sql = f"SELECT {', '.join(names)} FROM {table}{where.sql()} ORDER BY {order}"
        params = list(where.params)
        if limit is not None:
            if int(limit) < 0:
                raise ValueError(f"limit must be >= 0, got {limit!r}")
            sql += " LIMIT %s"
            params.append(int(limit))
        with self._lock:
            self._ready()
            cur = self._conn.cursor()
            cur.execute(self._placeholders(sql), params)
            return list(cur.fetchall())

    @staticmethod
    def _placeholders(sql: str) -> str:
        return sql.replace("%s", "?")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresStore(HistoryStore):
    """The PostgreSQL backend: COPY-based batch inserts, optional PostGIS geometry."""

    dialect = "postgresql"
    _json_text = "{}::text"  # decoded by msgspec in _as_dict rather than by psycopg's json.loads per row

    def __init__(self, conn: Any, url: str, conninfo: str) -> None:
        super().__init__(conn, url)
        self._conninfo = conninfo  # the URL without our own parameters, for reconnecting
        self._closed = False

    def _ready(self) -> None:
        """A new connection when the server ended the last one (restart, failover, idle kill).

        The statement that met the broken connection failed (its caller keeps its rows: the
        recorder retries them); the next one gets a new connection, or ConnectionError.
        """
        if not self._conn.broken or self._closed:
            return
        import psycopg

        try:
            self._conn = psycopg.connect(self._conninfo, connect_timeout=10, autocommit=True)
        except psycopg.Error as err:
            raise ConnectionError(f"history store: reconnecting failed: {err}") from err
        log.warning("history store: reconnected to PostgreSQL")

    def close(self) -> None:
        """Close the connection (idempotent); no reconnecting after."""
        self._closed = True
        super().close()

    def _insert(self, table: str, columns: Sequence[str], records: Sequence[Record]) -> int:
        stage = f"stage_{table}"
        names = ", ".join(columns)
        with self._lock:
            self._ready()
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
                with cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                    for r in records:
                        copy.write_row(r)
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING")
                return int(cur.rowcount)

    def _bbox(self, w: _Where, west: float, south: float, east: float, north: float) -> None:
        if self.postgis and west <= east:
            w.add(f"geom && {self._gis}.ST_MakeEnvelope(%s, %s, %s, %s, 4326)", west, south, east, north)
        else:
            super()._bbox(w, west, south, east, north)

    @staticmethod
    def _placeholders(sql: str) -> str:
        return sql


def _sqlite_path(url: str) -> str:
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if not rest.startswith("/"):
            raise ValueError(f"sqlite URL must be sqlite:///relative.db or sqlite:////absolute.db, got {url!r}")
        return rest[1:] or ":memory:"
    return url


def _open_sqlite(url: str) -> HistoryStore:
    path = _sqlite_path(url)
    if path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise ValueError(f"history store {url!r}: directory {str(parent)!r} does not exist")
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; a crash loses at most the last commits
        # a vessel's day is ~2,880 rows on as many pages (rows arrive in time order): read them
        # through a memory map and a 64 MiB page cache rather than one read() each
        conn.execute("PRAGMA mmap_size=1073741824")
        conn.execute("PRAGMA cache_size=-65536")
        with conn:
            for stmt in (*_table_ddl("sqlite"), _PLAIN_BBOX_INDEX):
                conn.execute(stmt)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise ValueError(f"history store {url!r}: {err}") from err
    return HistoryStore(conn, url)


def _postgis_schema(conn: Any, mode: str) -> str | None:
    """The schema of the PostGIS extension, creating it in ``public`` if allowed and possible; None without."""
    if mode == "off":
        return None
    import psycopg

    def installed() -> str | None:
        row = conn.execute("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'postgis'").fetchone()
        return None if row is None else str(row[0])

    schema = installed()
    if schema is None:
        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
        except psycopg.Error as err:
            if mode == "on":
                raise ValueError(f"postgis=on but the PostGIS extension cannot be created: {err}") from err
        schema = installed()
    return schema


def _open_postgres(url: str) -> HistoryStore:
    import psycopg

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    mode = dict(query).get("postgis", "auto")
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"history store URL parameter postgis must be auto, on or off, got {mode!r}")
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode([(k, v) for k, v in query if k != "postgis"])))
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10, autocommit=True)
    except psycopg.Error as err:
        raise ConnectionError(f"history store {parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}: {err}") from err
    store = PostgresStore(conn, url, conninfo)
    with conn.transaction():
        conn.execute("SET LOCAL client_min_messages = warning")  # no NOTICE for every IF NOT EXISTS
        for stmt in _table_ddl("postgresql"):
            conn.execute(stmt)
    gis = _postgis_schema(conn, mode)
    with conn.transaction():
        if gis is not None:
            store.postgis, store._gis = True, gis
            conn.execute("SET LOCAL client_min_messages = warning")
            conn.execute(f"ALTER TABLE track_points ADD COLUMN IF NOT EXISTS geom {gis}.geometry(Point, 4326) "
                         f"GENERATED ALWAYS AS ({gis}.ST_SetSRID({gis}.ST_MakePoint(lon, lat), 4326)) STORED")
            conn.execute("CREATE INDEX IF NOT EXISTS track_points_geom ON track_points USING gist (geom)")
        else:
            conn.execute(_PLAIN_BBOX_INDEX)
    return store


def open_store(url: str) -> HistoryStore:
    """Open (creating tables and indexes if needed) the history store at ``url``.

    ValueError for a malformed URL or an unusable file; ConnectionError when a PostgreSQL
    server cannot be reached.
    """
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return _open_postgres(url)
    if scheme in ("", "sqlite"):
        return _open_sqlite(url)
    raise ValueError(f"history store URL must be sqlite:///PATH or postgresql://..., got {url!r}")

