"""``python -m benchmarks [NAME …]``: run the named benchmarks (default: match and poll).

Each benchmark is also a module of its own (``python -m benchmarks.match --help``) and prints
medians and the ratio against the naive or peer approach it measures in the same run.
"""

from __future__ import annotations

import runpy
import sys

DEFAULT = ("match", "poll")
ALL = ("match", "poll", "scale", "fetch", "quality", "backtest", "relevance")


def main(argv: list[str]) -> int:
    names = argv or list(DEFAULT)
    unknown = [name for name in names if name not in ALL]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}: choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"=== benchmarks.{name}", flush=True)
        saved = sys.argv
        sys.argv = [f"benchmarks.{name}"]
        try:
            runpy.run_module(f"benchmarks.{name}", run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                return int(exc.code) if isinstance(exc.code, int) else 1
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
