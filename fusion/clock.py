"""Clocks: the only source of "now" for the live service. The core never reads a clock.

``WallClock`` is Unix time. ``WarpedClock`` runs ``speed`` times faster than the wall
from an origin, so that a scenario published at ``--speed N`` is fused on the
scenario's own timeline. ``jisf sim`` publishes its warp (origin, speed, wall start) as
a retained message on ``jisf/v1/sim/clock``; ``jisf run --clock sim`` follows it, which
keeps separate processes on one timeline without starting them at the same instant.
"""

from __future__ import annotations

import time
from typing import Protocol

import msgspec

SIM_CLOCK_TOPIC = "jisf/v1/sim/clock"


class Clock(Protocol):
    """Anything with ``now() -> Unix seconds``."""

    def now(self) -> float: ...


class WallClock:
    """Unix time."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()


class WarpedClock(msgspec.Struct, frozen=True):
    """now = origin + speed * (wall time - wall_start): scenario time at ``speed`` x."""

    origin: float  # scenario time at wall_start, Unix s
    speed: float
    wall_start: float  # Unix s

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")

    @classmethod
    def starting_now(cls, origin: float, speed: float) -> WarpedClock:
        """A clock whose scenario time ``origin`` is this instant."""
        return cls(origin=origin, speed=speed, wall_start=time.time())

    def now(self) -> float:
        """Warped Unix seconds."""
        return self.origin + self.speed * (time.time() - self.wall_start)

    def scenario_to_wall(self, t: float) -> float:
        """Wall time at which scenario time ``t`` occurs."""
        return self.wall_start + (t - self.origin) / self.speed

    def encode(self) -> bytes:
        """Payload for the retained ``jisf/v1/sim/clock`` message."""
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, payload: bytes) -> WarpedClock:
        """Parse a ``jisf/v1/sim/clock`` payload (msgspec.ValidationError on bad input)."""
        return msgspec.json.decode(payload, type=cls)
