"""Readers for real AIS recordings, and their conversion back into AIS feed payloads.

Two shapes of real data (see /work/shared/data/real/ais/SOURCE.md):
- MarineCadastre (NOAA/BOEM, USCG NAIS) CSV: one position per row, UTC times, knots;
- raw NMEA 0183 streams, one sentence per line, optionally with a trailing
  ``,<epoch>`` after the checksum (as some loggers write), optionally gzip-compressed.
Both can be republished as ``jisf/v1/feeds/ais/{source}`` payloads through
``sensors.ais``, so real traffic replays through the same path as simulated traffic.
"""

from __future__ import annotations

import csv
import gzip
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sensors.ais import COG_NOT_AVAILABLE_DEG, SOG_NOT_AVAILABLE_KN, encode_payload, format_time, tag_block
from sensors.codec import KNOT_MPS
from sensors.reports import AisPosition

MARINECADASTRE_SOURCE = "marinecadastre"
COG_SIGNED_NOT_AVAILABLE = -49.6  # 3600 (not available) read as a signed 12-bit value / 10
COG_SIGNED_WRAP = 409.6  # 4096 / 10: a signed 12-bit COG below -50 is COG - 409.6
_REQUIRED = ("BaseDateTime", "LON", "LAT", "MMSI", "SOG", "COG", "Heading", "TranscieverClass")
_TRAILING_EPOCH = re.compile(r"^(?P<line>.*\*[0-9A-Fa-f]{2}),(?P<epoch>\d{9,13})$")


def _open_text(path: Path) -> IO[str]:
    """Text stream of ``path``, gunzipped when it starts with the gzip magic bytes."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="ascii", errors="replace", newline="")
    return path.open("r", encoding="ascii", errors="replace", newline="")


def _cog(value: float) -> float | None:
    """MarineCadastre COG (deg) with the signed 12-bit export quirk undone; None if n/a."""
    if abs(value - COG_SIGNED_NOT_AVAILABLE) < 0.05 or value >= COG_NOT_AVAILABLE_DEG:
        return None
    if value < 0.0:
        value += COG_SIGNED_WRAP
    return round(value, 1) % 360.0


def _row_position(row: dict[str, str], source: str) -> AisPosition:
    """One CSV row -> AisPosition (class A -> msg_type 1, class B -> 18)."""
    stamp = datetime.fromisoformat(row["BaseDateTime"]).replace(tzinfo=UTC)
    sog_kn = float(row["SOG"])
    heading = float(row["Heading"])
    return AisPosition(
        t=stamp.timestamp(),
        source=source,
        mmsi=int(row["MMSI"]),
        lat=float(row["LAT"]),
        lon=float(row["LON"]),
        sog_mps=None if sog_kn >= SOG_NOT_AVAILABLE_KN or sog_kn < 0 else sog_kn * KNOT_MPS,
        cog_deg=_cog(float(row["COG"])),
        heading_deg=heading if 0.0 <= heading < 360.0 else None,  # 511: not available
        msg_type=18 if row["TranscieverClass"].strip() == "B" else 1,
    )


def read_marinecadastre_csv(
    path: str | Path, *, source: str = MARINECADASTRE_SOURCE
) -> Iterator[AisPosition]:
    """Positions of a MarineCadastre AIS CSV, in file order; times UTC -> Unix s, SOG -> m/s.

    Quirks handled: COG exported as signed 12-bit (values in [-204.8, -50.1] are
    COG - 409.6; -49.6 and 360 mean "not available"), heading 511 "not available".
    Raises ValueError naming the line and column of a malformed row.
    """
    with _open_text(Path(path)) as stream:
        reader = csv.DictReader(stream)
        missing = [name for name in _REQUIRED if name not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing MarineCadastre columns {missing}")
        for row in reader:
            try:
                yield _row_position(row, source)
            except (ValueError, TypeError) as err:
                raise ValueError(f"{path}:{reader.line_num}: bad row {row!r}: {err}") from None


def read_nmea_file(path: str | Path) -> Iterator[tuple[str, float | None]]:
    """Non-blank lines of an NMEA log (plain or gzip) with their trailing epoch (s) if any.

    A line ``!AIVDM,...*hh,1327664821`` yields ``("!AIVDM,...*hh", 1327664821.0)``;
    a 13-digit trailing value is read as milliseconds.
    """
    with _open_text(Path(path)) as stream:
        for raw in stream:
            line = raw.strip()
            if not line:
                continue
            match = _TRAILING_EPOCH.match(line)
            if match is None:
                yield line, None
                continue
            stamp = int(match.group("epoch"))
            yield match.group("line"), stamp / 1000.0 if stamp >= 10**12 else float(stamp)


def tag_nmea_line(line: str, t: float, source: str) -> str:
    """Prefix a raw NMEA sentence with an NMEA 4.0 tag block ``\\c:<t>,s:<source>*hh\\``."""
    return tag_block((f"c:{format_time(t)}", f"s:{source}")) + line


def positions_to_payloads(
    positions: Iterable[AisPosition], *, window_s: float = 1.0, max_lines: int = 100
) -> Iterator[tuple[float, str, bytes]]:
    """Time-ordered positions -> ``(t, source, payload)`` AIS feed messages, encoded as NMEA.

    Consecutive positions of one source within ``window_s`` seconds (at most
    ``max_lines``) share a payload, as aggregators send them; ``t`` is the time of
    the payload's last position (when it can be published).
    """
    batch: list[AisPosition] = []
    for position in positions:
        if batch and (
            position.source != batch[0].source
            or position.t - batch[0].t > window_s
            or len(batch) >= max_lines
        ):
            yield batch[-1].t, batch[0].source, encode_payload(batch)
            batch = []
        batch.append(position)
    if batch:
        yield batch[-1].t, batch[0].source, encode_payload(batch)
