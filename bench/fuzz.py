"""Coverage-guided fuzzing of every decoder with atheris (issue 18 item 6).

    python bench/fuzz.py --seconds 300 [--decoder NAME ...] [--jobs 2] [--work DIR]

Runs ``tests/fuzz/harness.py NAME`` for each decoder (``tests/fuzz/fuzz_checks.py``
CHECKS) in its own subprocess (libFuzzer owns the process) for ``--seconds`` each,
``--jobs`` at a time, starting from a copy of the seed corpus ``tests/fuzz/corpus/NAME``
(the copy grows in ``--work``; the repository's seeds are not touched). Prints one JSON
line per decoder: executions, execs/s, coverage (libFuzzer ``cov``/``ft``) at start and
end, corpus size, and the crash files found (libFuzzer stops a run at its first crash;
copy a crash into ``tests/fuzz/regressions/NAME/`` once fixed).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "tests" / "fuzz"
sys.path.insert(0, str(FUZZ))
from fuzz_checks import CHECKS  # noqa: E402

_STATUS = re.compile(rb"#(\d+)\s+(INITED|DONE|NEW|REDUCE|pulse)\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_DONE = re.compile(rb"Done (\d+) runs in (\d+) second")
_FINAL = re.compile(rb"stat::(\w+):\s+(\d+)")


def run_one(name: str, seconds: int, work: Path, max_len: int, rss_limit_mb: int) -> dict[str, Any]:
    """Fuzz one decoder for ``seconds``; libFuzzer's figures and the crash files, as a dict."""
    corpus, crashes = work / "corpus" / name, work / "crashes" / name
    if not corpus.exists():
        shutil.copytree(FUZZ / "corpus" / name, corpus)
    crashes.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(FUZZ / "harness.py"), name, f"-max_total_time={seconds}", f"-max_len={max_len}",
           "-timeout=20", f"-rss_limit_mb={rss_limit_mb}", "-print_final_stats=1", f"-artifact_prefix={crashes}/", str(corpus)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
    wall = time.monotonic() - start
    (work / f"{name}.log").write_bytes(proc.stderr)
    status = _STATUS.findall(proc.stderr)
    inited = next((s for s in status if s[1] == b"INITED"), None)
    last = status[-1] if status else None
    done = _DONE.search(proc.stderr)  # absent when a crash ended the run
    execs = int(done.group(1)) if done else int(last[0]) if last else 0
    stats = {k.decode(): int(v) for k, v in _FINAL.findall(proc.stderr)}
    return {
        "decoder": name,
        "wall_s": round(wall, 1),  # with start-up (imports, instrumentation, seed corpus)
        "fuzz_s": int(done.group(2)) if done else None,
        "executions": execs,
        "execs_per_s": stats.get("average_exec_per_sec"),
        "cov_start": int(inited[2]) if inited else None,
        "cov_end": int(last[2]) if last else None,
        "features_start": int(inited[3]) if inited else None,
        "features_end": int(last[3]) if last else None,
        "new_coverage": int(last[2]) - int(inited[2]) if inited and last else None,
        "corpus_files": len(list(corpus.iterdir())),
        "exit_code": proc.returncode,
        "crashes": len(list(crashes.iterdir())),
        "crash_files": sorted(str(p) for p in crashes.iterdir()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per decoder")
    parser.add_argument("--decoder", action="append", choices=sorted(CHECKS), help="repeatable; default: all")
    parser.add_argument("--jobs", type=int, default=2, help="harnesses run at the same time")
    parser.add_argument("--work", type=Path, help="corpus copies, crash files and logs (default: a new temp dir)")
    parser.add_argument("--max-len", type=int, default=4096, help="libFuzzer -max_len, bytes")
    parser.add_argument("--rss-limit-mb", type=int, default=4096,
                        help="libFuzzer -rss_limit_mb; atheris leaks ~200 B per traced numpy comparison "
                             "(docs/BENCHMARKS.md, Fuzzing), so the radar harnesses grow ~0.4 GB per million runs")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="jisf-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        for result in pool.map(lambda n: run_one(n, args.seconds, work, args.max_len, args.rss_limit_mb), args.decoder or list(CHECKS)):
            print(json.dumps({**result, "work": str(work)}), flush=True)


if __name__ == "__main__":
    main()
