"""``python -m benchmarks [NAME …] [OPTION …]``: run the named benchmarks (default: match and poll).

The options after the names go to each benchmark named (``python -m benchmarks poll
--feeds 2000 --runs 3``; ``python -m benchmarks poll --help`` lists the poll's).

Each benchmark is also a module of its own (``python -m benchmarks.match --help``) and prints
medians and the ratio against the naive or peer approach it measures in the same run.
"""

from __future__ import annotations

import runpy
import sys

DEFAULT = ("match", "poll")
ALL = ("match", "poll", "scale", "fetch", "quality", "backtest", "relevance", "web")


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        print(f"\nbenchmarks: {', '.join(ALL)}")
        return 0
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, options = argv[:split] or list(DEFAULT), argv[split:]
    unknown = [name for name in names if name not in ALL]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}: choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"=== benchmarks.{name}", flush=True)
        saved = sys.argv
        sys.argv = [f"benchmarks.{name}", *options]
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
