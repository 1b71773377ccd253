"""Atheris (libFuzzer) harness for one decoder: ``python tests/fuzz/harness.py NAME [libFuzzer flags] [corpus dirs]``.

NAME is a key of ``fuzz_checks.CHECKS`` (ais, adsb, radar, radar_arrays, oth, sat, actions,
ingest); each input goes through that decoder's check function, the same one the regression
test runs on the stored inputs. libFuzzer flags as usual: ``-max_total_time=600``,
``-artifact_prefix=DIR/``, ``-max_len=4096``. ``bench/fuzz.py`` runs every harness this way.
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped]  # no stubs

# Coverage of the project's decoders and of pyais (the AIS general path) only: instrumenting
# numpy, scipy and pyproj too costs over a minute at start and adds no decoder paths.
with atheris.instrument_imports(include=["sensors", "fusion", "pyais", "fuzz_checks"]):
    import fuzz_checks


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in fuzz_checks.CHECKS:
        sys.exit(f"usage: harness.py {{{'|'.join(fuzz_checks.CHECKS)}}} [libFuzzer flags] [corpus dirs]")
    check = fuzz_checks.CHECKS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
