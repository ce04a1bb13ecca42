"""Mutations the suite must catch, run by hand: `.venv/bin/python -m tests.mutations`.

Each breakage below once left the whole suite green (issue 8, item 8). This applies them one
at a time, runs the tests that should now fail, restores the file, and prints which tests
failed: a breakage that fails nothing is a promise no test keeps. Not collected by pytest
(it rewrites source files while it runs).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mutate(path: str, old: str, new: str) -> tuple[Path, str, str]:
    file = ROOT / path
    source = file.read_text()
    if old not in source:
        raise SystemExit(f"{path} changed: the breakage no longer applies; update this list")
    return file, source, source.replace(old, new, 1)


#: (what, file, the code as it is, the code broken, the tests that must catch it)
BREAKAGES = [
    (
        "1: no in-transaction checkpoint comparison (core/projection.py PgSink.commit)",
        "core/projection.py",
        """            if position is not None and last_seq <= position:
                return
            fresh = [e for e in events if e.seq > (position or 0)]""",
        """            fresh = list(events)""",
        ["tests/integration/core/test_projection.py"],
    ),
    (
        "2: no FOR UPDATE and no catch-up in PgSink.switch",
        "core/projection.py",
        """                "SELECT active_build FROM quark.projections WHERE name = $1 FOR UPDATE", self.name
            )
            await catch_up()""",
        """                "SELECT active_build FROM quark.projections WHERE name = $1", self.name
            )""",
        ["tests/integration/core/test_projection.py"],
    ),
    (
        "3: SMS jobs stored in plain text",
        "handlers/accounts/sms_jobs.py",
        """def seal_job(secret: bytes, job: SmsJob) -> bytes:
    nonce = os.urandom(12)
    return nonce + _key(secret).encrypt(nonce, msgspec.json.encode(job), SUBJECT.encode())


def open_job(secret: bytes, data: bytes) -> SmsJob:
    plain = _key(secret).decrypt(data[:12], data[12:], SUBJECT.encode())
    return msgspec.json.decode(plain, type=SmsJob)""",
        """def seal_job(secret: bytes, job: SmsJob) -> bytes:
    return msgspec.json.encode(job)


def open_job(secret: bytes, data: bytes) -> SmsJob:
    return msgspec.json.decode(data, type=SmsJob)""",
        [
            "tests/e2e/accounts/test_identity_limits.py",
            "tests/e2e/accounts/test_identity_attacks.py",
            "tests/e2e/erasure/test_erasure.py",
        ],
    ),
    (
        "4: an SMS is never retried",
        "handlers/accounts/sms_jobs.py",
        """            if exc.retryable and attempt < MAX_DELIVER:""",
        """            if False:""",
        [
            "tests/e2e/accounts/test_identity_limits.py",
            "tests/integration/accounts/test_sms_providers.py",
        ],
    ),
]


def main() -> int:
    survivors = 0
    for title, path, old, new, tests in BREAKAGES:
        file, original, broken = mutate(path, old, new)
        file.write_text(broken)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", *tests],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        finally:
            file.write_text(original)
        failed = re.findall(r"^FAILED (\S+)", run.stdout, re.MULTILINE)
        lines = run.stdout.strip().splitlines()
        print(f"== breakage {title}\n   {lines[-1] if lines else run.stderr[-300:]}")
        for name in failed:
            print("   FAILED", name)
        survivors += not failed
    print("every breakage was caught" if not survivors else f"{survivors} survived")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
