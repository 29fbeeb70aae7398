"""`make bench`: run every benchmarks/bench_*.py module's `main()` in turn, in one run."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = 0
    for name in names:
        print(f"\n== {name} ==", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        try:
            result = module.main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            print(f"{name} failed: {exc!r}", flush=True)
            failed += 1
            continue
        if isinstance(result, int) and result != 0:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
