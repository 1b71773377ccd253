"""What the simulator emits: feed messages (publish time, MQTT topic, payload bytes, QoS)."""

from __future__ import annotations

from typing import Literal

import msgspec

TOPIC_ROOT = "jisf/v1/feeds"
FeedKind = Literal["ais", "adsb", "radar", "oth", "sat"]


class FeedMessage(msgspec.Struct, frozen=True):
    """One MQTT message of a sensor feed.

    t: publish (arrival) time, Unix s; for late satellite AIS this is after the report
    time carried in the payload's tag blocks. topic: ``jisf/v1/feeds/{kind}/{source}``.
    """

    t: float
    topic: str
    payload: bytes
    qos: int = 0


def feed_topic(kind: FeedKind, source: str) -> str:
    """``jisf/v1/feeds/{kind}/{source}`` as DESIGN.md fixes it."""
    return f"{TOPIC_ROOT}/{kind}/{source}"
