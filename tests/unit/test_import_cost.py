"""``jisf track-scans`` stays light to start (issue 15 item 6): the modules that cost a large part
of a second to import, or belong to other commands, are not imported on its path (its help, and a
run over a small file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("scipy.stats", "scipy.spatial", "scipy.optimize", "matplotlib", "shapely", "pyproj", "aiohttp", "pymap3d")


def test_track_scans_path_imports_no_heavy_module(tmp_path: Path) -> None:
    scans = tmp_path / "scans.jsonl"
    lines = [{"dt": 4.0, "sigma": 50.0}] + [
        {"kind": "scan", "t": 4.0 * k, "detections": [[100.0 * k, 0.0], [0.0, 5000.0 + 80.0 * k], [60.0 * k, 40.0]]}
        for k in range(6)
    ]
    scans.write_text("".join(json.dumps(x) + "\n" for x in lines))
    code = (
        "import sys\n"
        "from fusion import cli\n"
        "try:\n"
        "    cli.main(['track-scans', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"assert cli.main(['track-scans', {str(scans)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}]) == 0\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 6
