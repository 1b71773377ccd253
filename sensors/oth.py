"""Over-the-horizon radar codec: one JSON object per fix (schema sensors/schemas/oth.schema.json).

The wire shape is the msgspec JSON form of ``sensors.reports.OthFix``: position in
degrees and a 2x2 east/north error covariance in m^2 that must be symmetric and
positive definite.
"""

from __future__ import annotations

import msgspec

from sensors.codec import (
    ANGLE,
    COVARIANCE_M2,
    LAT,
    LON,
    SPEED_MPS,
    VARIANCE_M2,
    check_number,
    check_optional,
    check_time,
    decode_json_report,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.reports import OthFix, Report

FEED = "oth"
_ENCODER = msgspec.json.Encoder()


def encode(fix: OthFix) -> bytes:
    """One fix as its JSON payload (UTF-8 bytes) for ``jisf/v1/feeds/oth/{fix.site}``."""
    return _ENCODER.encode(fix)


def _check_covariance(feed: str, cov: tuple[tuple[float, float], tuple[float, float]]) -> None:
    """Raise DecodeError unless ``cov`` (2, 2) m^2 is finite, symmetric and positive definite."""
    (ee, en), (ne, nn) = cov
    check_number(feed, "cov_en_m2[0][0]", ee, VARIANCE_M2)
    check_number(feed, "cov_en_m2[1][1]", nn, VARIANCE_M2)
    check_number(feed, "cov_en_m2[0][1]", en, COVARIANCE_M2)
    check_number(feed, "cov_en_m2[1][0]", ne, COVARIANCE_M2)
    if en != ne:
        raise DecodeError(feed, "cov_en_m2[1][0]", ne, f"must equal cov_en_m2[0][1] = {en!r}")
    if not (ee > 0.0 and ee * nn - en * en > 0.0):
        raise DecodeError(feed, "cov_en_m2", cov, "must be positive definite")


class OthDecoder:
    """Decodes OTH fix payloads into OthFix reports (stateless)."""

    feed: str = FEED

    def __init__(self, *, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits  # payload size and JSON depth

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload -> ([OthFix], []) or ([], [DecodeError]); never raises."""
        feed = feed_name(FEED, source)

        def check(fix: OthFix) -> None:
            if fix.site != source:
                raise DecodeError(feed, "site", fix.site, f"must match the topic's site {source!r}")
            check_time(feed, "t", fix.t, recv_t)
            check_number(feed, "lat", fix.lat, LAT)
            check_number(feed, "lon", fix.lon, LON)
            _check_covariance(feed, fix.cov_en_m2)
            check_optional(feed, "speed_mps", fix.speed_mps, SPEED_MPS)
            check_optional(feed, "course_deg", fix.course_deg, ANGLE)

        return decode_json_report(feed, payload, self.limits, OthFix, check)
