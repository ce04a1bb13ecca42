"""`python -m bench <suite> [--quick]`: run a benchmark suite and write its JSON report."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from bench.report import run_suite

#: Each suite, a module `bench.<name>` with its sizes (`FULL`, `QUICK`), `run(sizes, quick,
#: say)` returning the report, and the texts printed from it (`table`, `details_text`); its
#: figures may be measured in sibling modules `bench.<name>_*`.
SUITES: dict[str, str] = {
    "kernel": "commands/s, latency, read-model lag, replay rate, aggregate load",
    "identity": "token verifications/s, authenticated requests/s, logins/s against argon2",
    "media": "uploads/s and processed/s, image pipeline ms/MP and peak RSS, media GETs/s",
    "blog": "publish -> visible in a home timeline, home pages/s, search over 1M posts, "
    "comments/s on one post",
    "chat": "idle websockets per edge, messages/s, send -> delivered, channel fan-out, resume",
    "footprint": "memory (RSS and PSS) of every process of an idle `./dev up`",
    "moderation": "posts/s and latency with 1,000 word filter rules against none, the "
    "matcher's microseconds per post",
}
#: Not a suite: `python -m bench profile <suite> [--quick]` runs one with flame graphs of
#: every platform process over each measured window (bench/profile.py).


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Quark benchmarks.")
    sub = p.add_subparsers(dest="suite", required=True)
    for name, summary in SUITES.items():
        suite = sub.add_parser(name, help=summary)
        suite.add_argument(
            "--quick", action="store_true", help="small sizes (about a minute), for smoke runs"
        )
        suite.add_argument(
            "--output",
            type=Path,
            default=None,
            help=f"where to write the JSON report (default bench/results/{name}.json, "
            f"or {name}-quick.json with --quick)",
        )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["profile"]:
        from bench.profile import main as profile

        return profile(argv[1:])
    args = _parser().parse_args(argv)
    suite = importlib.import_module(f"bench.{args.suite}")
    sizes = suite.QUICK if args.quick else suite.FULL
    return run_suite(
        args.suite,
        lambda say: suite.run(sizes, args.quick, say),
        quick=args.quick,
        output=args.output,
        timeout=sizes.overall_timeout,
        table=suite.table,
        details=suite.details_text,
    )


if __name__ == "__main__":
    sys.exit(main())
