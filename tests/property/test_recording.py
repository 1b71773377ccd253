"""Recording round trip and torn-tail properties."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.recording import RecordedMessage, RecordingWriter, read_recording

topics = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)
messages = st.lists(
    st.builds(
        RecordedMessage,
        recv_t=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
        topic=topics,
        payload=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass"))),
        qos=st.integers(0, 2),
        retain=st.booleans(),
    ),
    max_size=30,
)


def write_all(path: Path, msgs: list[RecordedMessage], *, flush_every: int) -> None:
    """One writer session; a flush (gzip member) after every ``flush_every`` messages."""
    with RecordingWriter(path, flush_interval_s=1e9, fsync=False) as w:
        for i, m in enumerate(msgs, start=1):
            w.append(m.topic, m.payload, m.qos, m.retain, m.recv_t)
            if i % flush_every == 0:
                w.flush()


@settings(max_examples=60, deadline=None)
@given(msgs=messages, flush_every=st.integers(1, 7))
def test_round_trip_exact_bytes(tmp_path_factory, msgs: list[RecordedMessage], flush_every: int) -> None:
    path = tmp_path_factory.mktemp("rec") / "r.jsonl.gz"
    write_all(path, msgs, flush_every=flush_every)
    reader = read_recording(path)
    assert list(reader) == msgs
    assert reader.lost_bytes == 0
    assert not reader.truncated


def test_truncation_at_every_offset_loses_only_the_tail(tmp_path: Path) -> None:
    msgs = [RecordedMessage(1000.0 + i, f"jisf/v1/feeds/ais/rx{i % 3}", bytes([i]) * (i + 1), i % 3, i % 2 == 0)
            for i in range(12)]
    full = tmp_path / "full.gz"
    write_all(full, msgs, flush_every=3)
    data = full.read_bytes()
    # the file end after each member, found by reading growing prefixes
    seen_counts: set[int] = set()
    cut = tmp_path / "cut.gz"
    for k in range(len(data) + 1):
        cut.write_bytes(data[:k])
        reader = read_recording(cut)
        got = list(reader)
        assert got == msgs[: len(got)], f"cut at {k}: not a prefix"
        assert len(got) % 3 == 0, f"cut at {k}: a member was split"
        assert reader.truncated == (reader.lost_bytes > 0)
        if k == len(data):
            assert got == msgs and reader.lost_bytes == 0
        seen_counts.add(len(got))
        # what is lost is exactly the bytes after the last complete member
        kept = k - reader.lost_bytes
        check = tmp_path / "kept.gz"
        check.write_bytes(data[:kept])
        again = read_recording(check)
        assert list(again) == got and again.lost_bytes == 0
    assert seen_counts == {0, 3, 6, 9, 12}


def member_ends(data: bytes) -> list[int]:
    """File offsets just after each complete gzip member (independent of fusion.recording)."""
    import zlib

    ends, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            d.decompress(data[pos:])
        except zlib.error:
            break
        if not d.eof:
            break
        pos = len(data) - len(d.unused_data)
        ends.append(pos)
    return ends


APPENDED = RecordedMessage(9999.0, "jisf/v1/feeds/oth/after", b"after the tear", 1, False)


def test_append_after_a_tear_at_every_offset_keeps_both_sides(tmp_path: Path) -> None:
    """A crash that tears the last member anywhere: the next writer session cuts the tear, and the
    file then reads as the complete members before the tear plus what was appended, never raising."""
    msgs = [RecordedMessage(1000.0 + i, f"jisf/v1/feeds/ais/rx{i % 3}", bytes([i]) * (i + 1), i % 3, i % 2 == 0)
            for i in range(9)]
    full = tmp_path / "full.gz"
    write_all(full, msgs, flush_every=3)
    data = full.read_bytes()
    ends = member_ends(data)
    assert len(ends) == 3
    torn = tmp_path / "torn.gz"
    for k in range(len(data)):
        torn.write_bytes(data[:k])
        complete = sum(1 for e in ends if e <= k)  # members entirely before the tear (3 messages each)
        with RecordingWriter(torn, fsync=False) as w:
            w.append(APPENDED.topic, APPENDED.payload, APPENDED.qos, APPENDED.retain, APPENDED.recv_t)
        reader = read_recording(torn)
        assert list(reader) == [*msgs[: 3 * complete], APPENDED], f"torn at byte {k}"
        assert reader.lost_bytes == 0, f"torn at byte {k}"


@settings(max_examples=40, deadline=None)
@given(msgs=messages.filter(bool), flush_every=st.integers(1, 4), data=st.data())
def test_tear_anywhere_then_append(tmp_path_factory, msgs: list[RecordedMessage], flush_every: int, data) -> None:
    """Any recording, torn at any byte and followed by zeros (a power loss on a file system that
    had allocated the blocks) or nothing: appending keeps every complete member and the new one."""
    path = tmp_path_factory.mktemp("rec") / "r.jsonl.gz"
    write_all(path, msgs, flush_every=flush_every)
    raw = path.read_bytes()
    k = data.draw(st.integers(1, len(raw)), label="tear offset")
    zeros = data.draw(st.sampled_from([0, 1, 512]), label="zero bytes after the tear")
    torn = raw[:k] + b"\0" * zeros
    path.write_bytes(torn)
    sizes = [flush_every] * (len(msgs) // flush_every) + ([len(msgs) % flush_every] if len(msgs) % flush_every else [])
    kept = sum(sizes[: len(member_ends(torn))])  # (zeros can complete a member whose lost trailer bytes were zeros)
    with RecordingWriter(path, fsync=False) as w:
        w.append(APPENDED.topic, APPENDED.payload, APPENDED.qos, APPENDED.retain, APPENDED.recv_t)
    reader = read_recording(path)
    assert list(reader) == [*msgs[:kept], APPENDED]
    assert reader.lost_bytes == 0
