"""The reported bad payloads through ingest: time and reject-summary size (issue 18 item 1).

    python bench/limits.py            # prints JSON

Feeds one normal AIS payload (200 sentences), then the 1 MB AIS payload of 500,000
one-character lines, then the normal payload again, into a fresh ``Ingest``, and reports
the time of each ``accept`` (best of ``--repeat``), the number of rejects it counted and
the size of the AIS rejects summary (JSON bytes) afterwards. Runs against whatever
``fusion``/``sensors`` are importable, so the same script measures an older checkout
(``PYTHONPATH=/path/to/checkout python bench/limits.py``).
"""

from __future__ import annotations

import argparse
import json
import time

import msgspec

from fusion.core.frame import LocalFrame
from fusion.ingest import Ingest
from sensors import ais
from sensors.reports import AisPosition

T0 = 1_700_000_000.0
FRAME = LocalFrame(9.0, 10.3, -79.8, -77.9)


def _normal_payload(t: float) -> bytes:
    """200 AIS position sentences as an aggregator sends them."""
    return ais.encode_payload([AisPosition(t=t, source="agg", mmsi=367_000_000 + i, lat=9.5 + 1e-3 * i, lon=-79.0, sog_mps=4.0,
                                           cog_deg=45.0) for i in range(200)])


def _accept(ing: Ingest, payload: bytes, recv_t: float) -> tuple[float, int]:
    """Seconds of one accept and the rejects it added."""
    before = ing.log.total_rejected("ais")
    t = time.perf_counter()
    ing.accept("jisf/v1/feeds/ais/agg", payload, recv_t)
    return time.perf_counter() - t, ing.log.total_rejected("ais") - before


def run(repeat: int) -> dict[str, object]:
    huge = b"a\n" * 500_000
    best: dict[str, float] = {}
    out: dict[str, object] = {"huge_payload_bytes": len(huge), "huge_payload_lines": 500_000}
    for _ in range(repeat):
        ing = Ingest(FRAME)
        steps = (("normal_before", _normal_payload(T0), T0), ("huge", huge, T0 + 1.0), ("normal_after", _normal_payload(T0 + 2.0), T0 + 2.0))
        for name, payload, recv_t in steps:
            s, rejects = _accept(ing, payload, recv_t)
            best[name] = min(best.get(name, float("inf")), s)
            out[f"{name}_rejects"] = rejects
        t = time.perf_counter()
        summary = msgspec.json.encode(ing.log.summary("ais"))
        best["summary_encode"] = min(best.get("summary_encode", float("inf")), time.perf_counter() - t)
        out["summary_bytes"] = len(summary)
        out["summary_fields"] = len(ing.log.summary("ais")["by_field"])  # type: ignore[arg-type]
    out.update({f"{k}_ms": round(v * 1000.0, 2) for k, v in best.items()})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    print(json.dumps(run(p.parse_args().repeat), indent=1))


if __name__ == "__main__":
    main()
