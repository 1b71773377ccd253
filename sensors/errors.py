"""The one error type every codec raises or returns for bad input."""

from __future__ import annotations


class DecodeError(ValueError):
    """Input rejected at the edge: names the feed, the field and the offending value.

    ``str(err)`` reads like ``radar/site-3: plots[4].range_m = -12.0: must be >= 0``.
    """

    def __init__(self, feed: str, field: str, value: object, reason: str) -> None:
        self.feed = feed
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{feed}: {field} = {shown}: {reason}")

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, str, object, str]]:
        """Pickled by its four parts (the link process sends decode results to the service)."""
        return (DecodeError, (self.feed, self.field, self.value, self.reason))
