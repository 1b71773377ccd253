"""Real AIS recordings: MarineCadastre CSV and the AMSA NMEA stream through the codec."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sensors.ais import AisDecoder
from sensors.realdata import positions_to_payloads, read_marinecadastre_csv, read_nmea_file, tag_nmea_line
from sensors.reports import AisPosition, AisStatic

DATA = Path("/work/shared/data/real/ais")
CSV = DATA / "NYHarbor_2020_06_30_first_hour.csv"
AMSA = DATA / "amsa_ais.txt.gz"
AMSA_T = 1_327_664_821.0  # 2012-01-27 11:47 UTC, the stream's only timestamps

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared real-data folder absent")


@pytest.fixture(scope="module")
def positions() -> list[AisPosition]:
    return list(read_marinecadastre_csv(CSV))


def test_marinecadastre_counts_and_quirks(positions: list[AisPosition]) -> None:
    assert len(positions) == 8689
    assert len({p.mmsi for p in positions}) == 295
    assert sum(p.cog_deg is None for p in positions) == 777  # COG -49.6
    assert all(p.cog_deg is None or 0.0 <= p.cog_deg < 360.0 for p in positions)
    assert Counter(p.msg_type for p in positions) == {18: 6631, 1: 2058}
    first = positions[0]
    assert (first.t, first.mmsi, first.cog_deg) == (1593475200.0, 367000140, 349.0)  # -60.6 + 409.6


def test_marinecadastre_republished_as_nmea_decodes_back(positions: list[AisPosition]) -> None:
    decoder = AisDecoder()
    decoded: list[AisPosition] = []
    for t, source, payload in positions_to_payloads(positions):
        reports, errors = decoder.decode(payload, source, t)
        assert errors == []
        decoded += reports
    assert len(decoded) == len(positions)
    for original, back in zip(positions, decoded, strict=True):
        assert (back.mmsi, back.t, back.msg_type) == (original.mmsi, original.t, original.msg_type)
        assert abs(back.lat - original.lat) < 1e-6 and abs(back.lon - original.lon) < 1e-6


def test_amsa_stream_decodes_and_reassembles() -> None:
    lines = list(read_nmea_file(AMSA))
    assert len(lines) == 44687
    stamped = [(line, t) for line, t in lines if t is not None]
    assert len(stamped) == 851 and stamped[0][0].endswith("*30")
    decoder = AisDecoder(reassembly_timeout_s=float("inf"))
    reports: list[object] = []
    rejected: Counter[str] = Counter()
    for line, t in lines:
        payload = line if t is None else tag_nmea_line(line, t, "amsa")
        got, errors = decoder.decode(payload.encode(), "amsa", AMSA_T if t is None else t)
        reports += got
        rejected.update(e.reason for e in errors)
    ais_sentences = sum(line[3:7] in ("VDM,", "VDO,") for line, _ in lines)
    content = rejected.pop("position not available (91)") + rejected.pop("must be in 1..999999999")
    malformed = sum(rejected.values())
    assert ais_sentences == 34_029
    assert malformed / ais_sentences < 0.01  # >= 99 % pass frame, checksum, tag block and payload
    assert content / ais_sentences < 0.025  # lat-91 fixes and MMSI-0 own-ship reports, by design
    kinds = Counter(type(r).__name__ for r in reports)
    assert kinds["AisPosition"] > 25_000
    assert any(isinstance(r, AisStatic) and r.msg_type == 5 for r in reports)
    assert decoder.stats.fragments_expired <= 1
