"""Input limits applied by every decoder before parsing (documented in docs/FORMATS.md, "Limits").

``DecodeLimits`` bounds the work one payload can cost: a payload over a limit is rejected
whole, as one DecodeError naming the limit, before anything in it is parsed. The service
sets them from its configuration (``jisf run --max-json-depth`` ...; fusion/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class DecodeLimits:
    """Per-payload bounds of the decoders (each a positive integer)."""

    max_payload_bytes: int = 1_048_576
    """One MQTT payload; a 10,000-plot radar scan is ~400 kB as JSON."""
    max_json_depth: int = 32
    """Nesting of JSON arrays and objects (radar, OTH, aircraft.json). Valid payloads nest 3
    deep; the JSON parser recurses per level and stops with RecursionError near 1,000."""
    max_lines_per_payload: int = 50_000
    """AIS / SBS-1 lines, or aircraft.json ``aircraft[]`` entries, of one payload: 4x what a
    1 MiB payload of real sentences holds (~13,000 of ~80 bytes); one-character lines would
    otherwise cost a DecodeError each."""
    max_plots_per_scan: int = 50_000
    """Plots of one radar scan (a 1 MiB scan holds ~25,000 real plots): bounds the work when
    max_payload_bytes is raised."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"DecodeLimits.{f.name} = {value!r}: must be an integer >= 1")


DEFAULT_LIMITS = DecodeLimits()
MAX_PAYLOAD_BYTES = DEFAULT_LIMITS.max_payload_bytes
MAX_FUTURE_S = 300.0  # a report time further ahead of its receive time is rejected
MAX_AGE_S = 6 * 3600.0  # a report time further behind its receive time is rejected (satellite AIS lags minutes)
