"""`python -m bench kernel [--quick]`: run a benchmark suite and write its JSON report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Quark benchmarks.")
    sub = p.add_subparsers(dest="suite", required=True)
    kernel = sub.add_parser(
        "kernel", help="commands/s, latency, read-model lag, replay rate, aggregate load"
    )
    kernel.add_argument(
        "--quick", action="store_true", help="small sizes (about a minute), for smoke runs"
    )
    kernel.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the JSON report (default bench/results/kernel.json, "
        "or kernel-quick.json with --quick)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.suite == "kernel":
        from bench import kernel

        return kernel.main(quick=args.quick, output=args.output)
    return 2


if __name__ == "__main__":
    sys.exit(main())
