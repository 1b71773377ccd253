"""Recordings of inbound feed messages: gzip-member JSON Lines, appendable and crash-safe.

File format (documented in docs/RECORDING.md): a sequence of independent gzip members
(RFC 1952; concatenated members are themselves a valid gzip stream, so ``zcat F | jq``
reads a recording). Each member holds whole lines of UTF-8 JSON, one object per line:

    {"format":"jisf-recording","version":1}                       # header, once per writer session
    {"t":1700000000.25,"topic":"jisf/v1/feeds/ais/rx1","qos":0,"retain":false,"enc":"utf8","payload":"!AIVDM,..."}

``enc`` is ``"utf8"`` when the payload bytes are valid UTF-8 (stored as the JSON string),
else ``"base64"`` (standard alphabet, padded). A member is written and flushed at each
``flush()``; the member's CRC32 and length trailer make it self-checking, so a file cut
anywhere loses only the members after the last complete one, and the reader says how
many bytes that was.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import time
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, Self

import msgspec

log = logging.getLogger("jisf.recording")

FORMAT_NAME = "jisf-recording"
FORMAT_VERSION = 1
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib wbits for a gzip header and trailer
_GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 ID1 ID2
_READ_CHUNK = 1 << 20
_MAX_BUFFER_BYTES = 4 << 20  # a member is closed early once this much JSON is buffered


class RecordingError(ValueError):
    """A recording that cannot be read: not gzip, or a complete member with a bad line."""


class RecordedMessage(msgspec.Struct, frozen=True):
    """One inbound message as received: receive time (Unix s), topic, exact payload bytes."""

    recv_t: float
    topic: str
    payload: bytes
    qos: int
    retain: bool


class _MessageLine(msgspec.Struct, frozen=True):
    """One message line as written: every field always present, in this order."""

    t: float
    topic: str
    qos: int
    retain: bool
    enc: Literal["utf8", "base64"]
    payload: str


class _Line(msgspec.Struct, frozen=True):
    """One line as read: a message, or a session header (``format`` set)."""

    t: float | None = None
    topic: str | None = None
    qos: int | None = None
    retain: bool | None = None
    enc: Literal["utf8", "base64"] | None = None
    payload: str | None = None
    format: str | None = None
    version: int | None = None


_encoder = msgspec.json.Encoder()
_line_decoder = msgspec.json.Decoder(_Line)
_HEADER = _encoder.encode({"format": FORMAT_NAME, "version": FORMAT_VERSION}) + b"\n"
_MESSAGE_FIELDS = _MessageLine.__struct_fields__


def _encode_line(topic: str, payload: bytes, qos: int, retain: bool, recv_t: float) -> bytes:
    """Validate one message and render it as a JSON line (with the trailing newline)."""
    if not isinstance(topic, str):
        raise TypeError(f"recording: topic = {topic!r}: must be a str")
    if not topic:
        raise ValueError(f"recording: topic = {topic!r}: must not be empty")
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"recording: topic = {topic!r}: not encodable as UTF-8 ({exc.reason})") from None
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"recording: payload = {type(payload).__name__}: must be bytes")
    if qos not in (0, 1, 2) or isinstance(qos, bool):
        raise ValueError(f"recording: qos = {qos!r}: must be 0, 1 or 2")
    if not isinstance(retain, bool):
        raise TypeError(f"recording: retain = {retain!r}: must be a bool")
    if not isinstance(recv_t, (int, float)) or isinstance(recv_t, bool) or not math.isfinite(recv_t):
        raise ValueError(f"recording: recv_t = {recv_t!r}: must be a finite number of Unix seconds")
    raw = bytes(payload)
    enc: Literal["utf8", "base64"]
    try:
        text, enc = raw.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        text, enc = base64.b64encode(raw).decode("ascii"), "base64"
    line = _MessageLine(float(recv_t), topic, int(qos), retain, enc, text)
    return _encoder.encode(line) + b"\n"


class _MemberScan:
    """Splits a byte stream into gzip members; remembers where the last complete one ended."""

    def __init__(self) -> None:
        self.complete_end = 0  # file offset just after the last complete member
        self.offset = 0  # file offset of the next byte to feed
        self.partial = b""  # decompressed prefix of an incomplete member at end of input
        self._inflate: zlib._Decompress | None = None
        self._out: list[bytes] = []

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """Feed the next file bytes; yields (start offset, decompressed contents) per completed member."""
        while data:
            if self._inflate is None:
                self._inflate = zlib.decompressobj(_GZIP_WBITS)
            try:
                self._out.append(self._inflate.decompress(data))
            except zlib.error as exc:
                raise RecordingError(f"recording: byte offset {self.complete_end}: not a gzip member ({exc})") from None
            if not self._inflate.eof:
                self.offset += len(data)
                return
            rest = self._inflate.unused_data
            start = self.complete_end
            self.offset += len(data) - len(rest)
            self.complete_end = self.offset
            member = b"".join(self._out)
            self._inflate, self._out = None, []
            yield start, member
            data = rest

    def finish(self) -> None:
        """Mark end of input; an unfinished member's decompressed prefix goes to ``partial``."""
        if self._inflate is not None:
            self.partial = b"".join(self._out) + self._inflate.flush()
            self._inflate, self._out = None, []


def _decode_member(member: bytes, start: int) -> Iterator[RecordedMessage]:
    """Lines of one complete member -> messages (headers checked and skipped)."""
    for number, line in enumerate(member.splitlines(), start=1):
        if not line:
            continue
        try:
            rec = _line_decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise RecordingError(f"recording: member at byte {start}, line {number}: {exc}") from None
        if rec.format is not None:
            if rec.format != FORMAT_NAME or rec.version != FORMAT_VERSION:
                raise RecordingError(
                    f"recording: member at byte {start}, line {number}: format = {rec.format!r} version = {rec.version!r}: "
                    f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}"
                )
            continue
        t, topic, qos, retain, enc, text = rec.t, rec.topic, rec.qos, rec.retain, rec.enc, rec.payload
        if t is None or topic is None or qos is None or retain is None or enc is None or text is None:
            missing = next(name for name in _MESSAGE_FIELDS if getattr(rec, name) is None)
            raise RecordingError(f"recording: member at byte {start}, line {number}: {missing} = None: required")
        if enc == "utf8":
            payload = text.encode("utf-8")
        else:
            try:
                payload = base64.b64decode(text, validate=True)
            except binascii.Error as exc:
                raise RecordingError(f"recording: member at byte {start}, line {number}: payload: bad base64 ({exc})") from None
        yield RecordedMessage(t, topic, payload, qos, retain)


class RecordingReader:
    """Iterates the messages of a recording in file order; loss figures are set after iteration.

    ``lost_bytes``: bytes after the last complete gzip member (a truncated or torn tail).
    ``lost_lines``: whole lines visible in that torn tail (a lower bound on lost messages).
    ``truncated``: True when ``lost_bytes > 0``. ``messages``: messages read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lost_bytes = 0
        self.lost_lines = 0
        self.truncated = False
        self.messages = 0

    def __iter__(self) -> Iterator[RecordedMessage]:
        scan = _MemberScan()
        self.messages = 0
        with self.path.open("rb") as f:
            while chunk := f.read(_READ_CHUNK):
                for start, member in scan.feed(chunk):
                    for msg in _decode_member(member, start):
                        self.messages += 1
                        yield msg
        scan.finish()
        self.lost_bytes = scan.offset - scan.complete_end
        self.lost_lines = scan.partial.count(b"\n")
        self.truncated = self.lost_bytes > 0
        if self.truncated:
            log.warning("%s: torn tail, %d bytes (>= %d messages) after byte %d lost",
                        self.path, self.lost_bytes, self.lost_lines, scan.complete_end)


def read_recording(path: Path | str) -> RecordingReader:
    """Open a recording for reading; iterate it for ``RecordedMessage``s in receive order."""
    return RecordingReader(Path(path))


def valid_length(path: Path) -> int:
    """Byte length of the readable prefix of a recording (end of its last complete member).

    Bytes after it that are not gzip at all (a tail zero-filled by a power loss, a member
    whose CRC fails) end the prefix as a torn member does: they are what a writer cuts."""
    scan = _MemberScan()
    with path.open("rb") as f:
        try:
            while chunk := f.read(_READ_CHUNK):
                deque(scan.feed(chunk), maxlen=0)  # consume: only the member boundaries matter
        except RecordingError:
            pass  # scan.complete_end is the end of the last good member
    return scan.complete_end


def cut_torn_tail(path: Path) -> int:
    """Cut a recording back to the end of its last complete member; returns the bytes cut.

    Without this a member appended after a torn one would be read as the torn member's
    continuation, and the file would stop being readable there (``not a gzip member``)."""
    size = path.stat().st_size
    keep = valid_length(path)
    if keep == 0 and size > 0:
        with path.open("rb") as f:
            if not _GZIP_MAGIC.startswith(f.read(2).rstrip(b"\0")):  # a torn or zero-filled first member is cut
                raise RecordingError(f"recording {path}: not a recording (no gzip member at byte 0); refusing to append to it")
    if keep < size:
        log.warning("%s: cutting a torn tail of %d bytes (after byte %d) before appending", path, size - keep, keep)
        os.truncate(path, keep)
    return size - keep


class RecordingWriter:
    """Appends messages to a recording; each flush writes one self-checking gzip member.

    ``flush_interval_s``: ``append`` flushes when this long (monotonic clock) has passed since
    the last flush; a caller that may go idle should also call ``flush()`` on a timer.
    ``fsync``: also fsync at each flush (survives power loss, not only a process crash).
    An existing file is appended to; a torn tail left by a crash is cut off first (logged,
    ``cut_torn_tail``). A file that does not start as a recording is refused (``RecordingError``).
    """

    def __init__(self, path: Path | str, *, flush_interval_s: float = 1.0, fsync: bool = True,
                 compresslevel: int = 6) -> None:
        if not (flush_interval_s >= 0.0 and math.isfinite(flush_interval_s)):
            raise ValueError(f"recording: flush_interval_s = {flush_interval_s!r}: must be finite and >= 0")
        if not 0 <= compresslevel <= 9:
            raise ValueError(f"recording: compresslevel = {compresslevel!r}: must be 0..9")
        self.path = Path(path)
        self.flush_interval_s = float(flush_interval_s)
        self.fsync = fsync
        self.compresslevel = compresslevel
        self._file: BinaryIO | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._last_flush = time.monotonic()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        """Open for appending (cutting a torn tail) and start a session with a header line."""
        if self._file is not None:
            raise RuntimeError(f"recording {self.path}: already open")
        if self.path.exists():
            cut_torn_tail(self.path)
        self._file = self.path.open("ab")
        self._buffer, self._buffered = [_HEADER], len(_HEADER)
        self._last_flush = time.monotonic()

    def append(self, topic: str, payload: bytes, qos: int, retain: bool, recv_t: float) -> None:
        """Buffer one message; flushes when the interval has passed or the buffer is large."""
        if self._file is None:
            raise RuntimeError(f"recording {self.path}: append on a closed writer")
        line = _encode_line(topic, payload, qos, retain, recv_t)
        self._buffer.append(line)
        self._buffered += len(line)
        if self._buffered >= _MAX_BUFFER_BYTES or time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the buffered lines as one gzip member and push it to the OS (and disk if fsync)."""
        if self._file is None:
            raise RuntimeError(f"recording {self.path}: flush on a closed writer")
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        deflate = zlib.compressobj(self.compresslevel, zlib.DEFLATED, _GZIP_WBITS)
        member = deflate.compress(b"".join(self._buffer)) + deflate.flush()
        self._buffer, self._buffered = [], 0
        self._file.write(member)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush and close; idempotent."""
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._file = None
