"""``make bench``: run every bench/bench_*.py (or those named) and print their figures.

Each benchmark builds its own database under bench/out/, so it never touches var/."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(
            f"bench.{name if name.startswith('bench_') else 'bench_' + name}"
        )
        print(f"\n=== {module.__name__} ===", flush=True)
        t0 = time.perf_counter()
        module.main()
        print(f"--- {module.__name__} took {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
