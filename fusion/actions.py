"""Operator actions on alerts (``jisf/v1/ops/{action}/{alert_id}``): topic and payload validation. Pure.

A display publishes ``{"alert_id", "action", "by", "why", "t"}`` on the topic of the action
and alert; the topic and the payload must agree. What passes enters ``fusion.pipeline.Fusion``
like a feed message (``Fusion.accept``) and is applied by the rule engine at the next output
tick (``RuleEngine.apply_actions``); what does not is rejected with a ``DecodeError`` naming the
field, counted under the feed ``ops`` like any other reject.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec

from sensors.codec import decode_json
from sensors.errors import DecodeError

TOPIC_ROOT = "jisf/v1"
OPS_FILTER = f"{TOPIC_ROOT}/ops/#"
FEED = "ops"
ACTIONS: tuple[str, ...] = ("acknowledge", "dismiss")
MAX_PAYLOAD_BYTES = 4096

Text = Annotated[str, msgspec.Meta(max_length=500)]


class OperatorAction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One operator action as published by a display (docs/FORMATS.md, "Operator actions")."""

    alert_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    action: Literal["acknowledge", "dismiss"]
    by: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    t: float  # when the operator acted, Unix s
    why: Text = ""


def ops_topic(action: str, alert_id: str) -> str:
    """The topic of an operator action."""
    return f"{TOPIC_ROOT}/ops/{action}/{alert_id}"


def is_ops_topic(topic: str) -> bool:
    """Whether ``topic`` is under ``jisf/v1/ops/``."""
    return topic.startswith(f"{TOPIC_ROOT}/ops/")


def decode_action(topic: str, payload: bytes) -> OperatorAction:
    """Validate one operator action message; DecodeError naming the field and value otherwise."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{TOPIC_ROOT}/ops" or parts[3] not in ACTIONS or not parts[4]:
        raise DecodeError(FEED, "topic", topic, f"expected {TOPIC_ROOT}/ops/{{{'|'.join(ACTIONS)}}}/{{alert_id}}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(FEED, "payload", f"{len(payload)} bytes", f"exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    act = decode_json(FEED, payload, OperatorAction, {})
    if act.action != parts[3]:
        raise DecodeError(FEED, "action", act.action, f"does not match the topic's action {parts[3]!r}")
    if act.alert_id != parts[4]:
        raise DecodeError(FEED, "alert_id", act.alert_id, f"does not match the topic's alert id {parts[4]!r}")
    if not math.isfinite(act.t):
        raise DecodeError(FEED, "t", act.t, "must be a finite Unix time")
    return act
