"""Satellite imagery detections codec: one JSON object per image (schema sensors/schemas/sat.schema.json).

The wire shape is the msgspec JSON form of ``sensors.reports.SatScene``: the sensor
(``sar``, ``viirs`` or ``optical``), the acquisition time and the vessels detected in the
image, each with a position, its 1-sigma error in metres, an estimated length (or null)
and a confidence; no identity. Scenes arrive minutes to hours after acquisition, so the
acquisition time is accepted up to ``MAX_AGE_S`` (6 h) before the receive time.
"""

from __future__ import annotations

import msgspec

from sensors.codec import (
    LAT,
    LON,
    Bound,
    check_number,
    check_optional,
    check_time,
    decode_json_report,
    feed_name,
)
from sensors.errors import DecodeError
from sensors.limits import DEFAULT_LIMITS, DecodeLimits
from sensors.reports import Report, SatScene

FEED = "sat"
POS_ERR_M = Bound(1.0, 50_000.0)  # 1-sigma position error: > 0 (a detection is never exact), < a VIIRS pixel cluster's worst
LENGTH_M = Bound(1.0, 500.0)  # estimated length overall; the largest ships are ~400 m
CONFIDENCE = Bound(0.0, 1.0)
_ENCODER = msgspec.json.Encoder()


def encode(scene: SatScene) -> bytes:
    """One scene as its JSON payload (UTF-8 bytes) for ``jisf/v1/feeds/sat/{scene.source}``."""
    return _ENCODER.encode(scene)


class SatDecoder:
    """Decodes satellite scene payloads into SatScene reports (stateless).

    A scene is accepted or rejected whole: a bad detection rejects the scene, named
    (``detections[3].pos_err_m``), because the correlation reads the scene as one picture.
    """

    feed: str = FEED

    def __init__(self, *, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits  # payload size, JSON depth, detections per scene (max_plots_per_scan)

    def decode(
        self, payload: bytes, source: str, recv_t: float
    ) -> tuple[list[Report], list[DecodeError]]:
        """One payload -> ([SatScene], []) or ([], [DecodeError]); never raises."""
        feed = feed_name(FEED, source)

        def check(scene: SatScene) -> None:
            if scene.source != source:
                raise DecodeError(feed, "source", scene.source, f"must match the topic's source {source!r}")
            check_time(feed, "acq_time", scene.acq_time, recv_t)
            if len(scene.detections) > self.limits.max_plots_per_scan:
                raise DecodeError(feed, "detections", f"<{len(scene.detections)} detections>",
                                  f"more than {self.limits.max_plots_per_scan} (max_plots_per_scan)")
            for i, d in enumerate(scene.detections):
                check_number(feed, f"detections[{i}].lat", d.lat, LAT)
                check_number(feed, f"detections[{i}].lon", d.lon, LON)
                check_number(feed, f"detections[{i}].pos_err_m", d.pos_err_m, POS_ERR_M)
                check_optional(feed, f"detections[{i}].length_m", d.length_m, LENGTH_M)
                check_number(feed, f"detections[{i}].confidence", d.confidence, CONFIDENCE)

        return decode_json_report(feed, payload, self.limits, SatScene, check)
