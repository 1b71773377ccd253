"""Checkpoints of the whole fusion state, written atomically, restored at start-up.

A checkpoint is one ``.npz`` file (numpy's zip of arrays, read without pickle):

- ``tracker.{domain}.{key}``: ``Tracker.snapshot()`` of each pool;
- ``rules.{key}``: ``RuleEngine.snapshot()`` (raised alerts, their ids, the id sequence);
- ``ingest.seen_keys`` / ``ingest.seen_t``: the duplicate filter (payload digests, receive times);
- ``ingest.heap.{i}.{field}``: measurement batches still in the re-order window;
- ``meta``: JSON (as uint8) with the format version, the area, the next tick time, the
  pending deletions, the counters, the reject log, the AIS static data and the caller's
  extra state (the service's published track topics).

Writing: the file is written to ``{path}.tmp``, flushed and fsynced, then renamed over
``path`` (``os.replace``) and the directory fsynced, so a crash at any moment leaves
either the previous checkpoint or the new one, never a torn file.

Restoring puts that state into a freshly built ``Fusion`` of the same area, zones and
rules: track ids continue, alerts already raised stay raised (not raised again), the
next output tick follows the last one written.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from fusion.core.tracker import Tracker
from fusion.pipeline import Fusion
from fusion.rules.engine import RuleEngine

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored here; the message names the file and the reason."""


def save_checkpoint(path: Path, fusion: Fusion, extra: dict[str, Any] | None = None) -> int:
    """Write ``fusion``'s state (and JSON-able ``extra``) atomically to ``path``; returns its size in bytes."""
    arrays: dict[str, np.ndarray] = {}
    for domain, trk in fusion.trackers.items():
        arrays.update({f"tracker.{domain}.{k}": np.asarray(v) for k, v in trk.snapshot().items()})
    rules_meta: dict[str, Any] = {}
    for k, v in fusion.rules.snapshot().items():
        if isinstance(v, np.ndarray):
            arrays[f"rules.{k}"] = v
        else:
            rules_meta[k] = v
    ingest_arrays, ingest_meta = fusion.ingest.snapshot()
    arrays.update({f"ingest.{k}": v for k, v in ingest_arrays.items()})
    meta = {
        "version": FORMAT_VERSION,
        "written_wall": time.time(),
        "area": [fusion.frame.lat_min, fusion.frame.lat_max, fusion.frame.lon_min, fusion.frame.lon_max],
        **fusion.progress_state(),
        "rules": rules_meta,
        **ingest_meta,
        "extra": extra or {},
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # straight to the file: no copy in memory (at a stop under a backlog, the re-order
        # buffer's batches make it tens of MB, and the copy was a third of its write: docs/BENCHMARKS.md, "SIGTERM under a backlog")
        np.savez(f, allow_pickle=False, **arrays)  # numeric arrays only, as load reads them
        size = f.tell()
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return size


def load_checkpoint(path: Path, fusion: Fusion) -> dict[str, Any]:
    """Restore ``path`` into ``fusion`` (built for the same area); returns the ``extra`` state and when it was written.

    CheckpointError naming the file when it is unreadable, of another format version or
    for another area.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("meta").tobytes())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"checkpoint {path}: unreadable: {err}") from err
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path}: version = {meta.get('version')!r}: this build reads version {FORMAT_VERSION}")
    area = [fusion.frame.lat_min, fusion.frame.lat_max, fusion.frame.lon_min, fusion.frame.lon_max]
    if not np.allclose(meta["area"], area):
        raise CheckpointError(f"checkpoint {path}: area = {meta['area']}: the service runs area {area}")

    def part(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    for domain in fusion.trackers:
        fusion.trackers[domain] = Tracker.restore(fusion.config.tracker, domain, part(f"tracker.{domain}."))
    fusion.rules = RuleEngine.restore(fusion.rules.zones, fusion.rules.rules, fusion.frame, {**part("rules."), **meta["rules"]})
    fusion.ingest.restore(part("ingest."), meta)
    fusion.restore_progress(meta)
    return {**meta["extra"], "written_wall": meta["written_wall"]}
