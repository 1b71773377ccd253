"""Recording writer sessions, crash safety, bad input and the file's readability without jisf."""

from __future__ import annotations

import base64
import gzip
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fusion.recording import RecordedMessage, RecordingError, RecordingWriter, read_recording

CRASH_WRITER = r"""
import sys
from fusion.recording import RecordingWriter
path = sys.argv[1]
with RecordingWriter(path, flush_interval_s=0.0, fsync=False) as w:
    i = 0
    while True:
        w.append(f"jisf/v1/feeds/radar/s{i % 4}", i.to_bytes(4, "big") * 50, 0, False, 1000.0 + i)
        i += 1
        if i == 200:
            print("ready", flush=True)
"""


def expected(i: int) -> RecordedMessage:
    return RecordedMessage(1000.0 + i, f"jisf/v1/feeds/radar/s{i % 4}", i.to_bytes(4, "big") * 50, 0, False)


def test_append_across_sessions(tmp_path: Path) -> None:
    path = tmp_path / "r.gz"
    with RecordingWriter(path, fsync=False) as w:
        w.append("a/b", b"one", 0, False, 1.0)
    with RecordingWriter(path, fsync=False) as w:
        w.append("a/c", b"\xff\x00two", 1, True, 2.0)
        w.append("a/d", b"", 2, False, 3.0)
    got = list(read_recording(path))
    assert got == [
        RecordedMessage(1.0, "a/b", b"one", 0, False),
        RecordedMessage(2.0, "a/c", b"\xff\x00two", 1, True),
        RecordedMessage(3.0, "a/d", b"", 2, False),
    ]


def test_periodic_flush_makes_data_readable_while_open(tmp_path: Path) -> None:
    path = tmp_path / "r.gz"
    with RecordingWriter(path, flush_interval_s=0.05, fsync=False) as w:
        w.append("a/b", b"first", 0, False, 1.0)
        assert list(read_recording(path)) == []  # still buffered
        time.sleep(0.06)
        w.append("a/b", b"second", 0, False, 2.0)  # interval passed: both flushed
        assert [m.payload for m in read_recording(path)] == [b"first", b"second"]


def test_killed_writer_leaves_a_readable_prefix_and_appending_resumes(tmp_path: Path) -> None:
    path = tmp_path / "crash.gz"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    reader = read_recording(path)
    got = list(reader)
    assert len(got) >= 200
    assert got == [expected(i) for i in range(len(got))]
    # the next session cuts any torn tail and appends after the last complete member
    with RecordingWriter(path, fsync=False) as w:
        w.append("after/crash", b"x", 0, False, 5.0)
    again = read_recording(path)
    assert list(again) == [*got, RecordedMessage(5.0, "after/crash", b"x", 0, False)]
    assert again.lost_bytes == 0


def test_file_is_plain_gzip_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.gz"
    with RecordingWriter(path, fsync=False) as w:
        w.append("t/1", b"caf\xc3\xa9", 0, False, 1.5)
        w.flush()
        w.append("t/2", b"\x80\x81", 1, True, 2.5)
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert lines[0] == {"format": "jisf-recording", "version": 1}
    assert lines[1] == {"t": 1.5, "topic": "t/1", "qos": 0, "retain": False, "enc": "utf8", "payload": "café"}
    assert lines[2]["enc"] == "base64" and base64.b64decode(lines[2]["payload"]) == b"\x80\x81"
    assert lines[2]["qos"] == 1 and lines[2]["retain"] is True


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", b"x", 0, False, 1.0), "topic"),
        (("a", "text", 0, False, 1.0), "payload"),
        (("a", b"x", 3, False, 1.0), "qos"),
        (("a", b"x", 0, 1, 1.0), "retain"),
        (("a", b"x", 0, False, float("nan")), "recv_t"),
        (("\ud800", b"x", 0, False, 1.0), "topic"),
    ],
)
def test_bad_message_names_the_field(tmp_path: Path, args: tuple, field: str) -> None:
    with RecordingWriter(tmp_path / "r.gz", fsync=False) as w, pytest.raises((ValueError, TypeError), match=field):
        w.append(*args)


def test_not_a_recording_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(RecordingError, match="byte offset 0"):
        list(read_recording(path))
    path.write_bytes(gzip.compress(b'{"format":"other","version":1}\n'))
    with pytest.raises(RecordingError, match="format = 'other'"):
        list(read_recording(path))
    path.write_bytes(gzip.compress(b'{"topic":"a","qos":0,"retain":false,"enc":"utf8","payload":""}\n'))
    with pytest.raises(RecordingError, match="line 1: t = None"):
        list(read_recording(path))


@pytest.mark.parametrize(("kwargs", "field"), [({"flush_interval_s": -1.0}, "flush_interval_s"),
                                                ({"flush_interval_s": float("inf")}, "flush_interval_s"),
                                                ({"compresslevel": 10}, "compresslevel")])
def test_bad_writer_settings_name_the_field(tmp_path: Path, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RecordingWriter(tmp_path / "r.gz", **kwargs)


def test_closed_writer_refuses_appends(tmp_path: Path) -> None:
    w = RecordingWriter(tmp_path / "r.gz", fsync=False)
    with pytest.raises(RuntimeError, match="closed"):
        w.append("a", b"x", 0, False, 1.0)
