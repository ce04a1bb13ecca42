"""The identity benchmark: `python -m bench identity [--quick]`.

Three groups of figures, each printed beside a ceiling (or floor) measured in the same run
(`bench/ceilings.py`):

1. **Token verifications/s**, in this process. `token_verifications_per_s`:
   `TokenService.verify` on one core, over tokens signed by the real ring in the
   `signing_keys` bucket; the ring is loaded before the loop (the kid is known), so this is
   pure CPU: base64url, the header, the Ed25519 check, the claims. Ceiling: the bare Ed25519
   check of the same token. `token_verifications_with_revocation_check_per_s`: the same plus
   the ended-session check against the in-memory copy of the ACCESS stream after its
   barrier (one coalesced NATS PING, `core.access.AccessList.current`), what the edge does for every
   authenticated request, by 64 asyncio tasks at once.
2. **Authenticated requests/s** (`authenticated_requests_per_s_64`): `GET
   /v1/me/security-log?limit=1` through the edge by 64 clients of the Python load generator
   (closed loop, keep-alive), each with the access token of an account created through the
   sign-up flow. Ceiling: the same client and headers against the hello-world server.
3. **Logins/s** (`logins_per_s_1`, `_4`, `_16`): `POST /v1/auth/login` through the edge at 1,
   4 and 16 concurrent clients, with the shipped argon2id cost. Client i of n logs in to
   accounts i, i+n, i+2n, … in turn, so no two logins race for one account and each account
   takes a share of the sessions. Ceiling: argon2 checks in this process with the accounts
   handler's own `Passwords` class and cost, on one core (`argon2_verifies_per_s_1core`) and
   on every core; the floor of a login's latency is one such check.

The platform runs as separate processes: `quark run handler accounts`, `quark run
projection security_log` (the security-log endpoint reads it) and `quark run edge`. Accounts
are created beforehand through the real sign-up flow (`POST /v1/auth/phone/start`, the code
read back from the SMS outbox file, `/verify`, `/register`). Every request comes from
127.0.0.1, so the per-IP limits of sign-up and sign-in and the lockout thresholds are raised
for the run (`LIFTED_LIMITS`, printed with the results); the limiter and the lockout checks
still run on every request, only their allowance is larger. No wrong password is ever sent.

In-process figures and ceilings run before the platform starts, so nothing competes with
them for the cores; the HTTP figures share the machine's cores with the load generator.

This module holds the sizes, what each figure measures (`MEASURED`), the run in its order
and the report. Figure 1 and the in-process ceilings are measured in
`bench/identity_checks.py`, figures 2 and 3 in `bench/identity_requests.py`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.environment import BenchSetupError, Setup, access_tokens, set_up
from bench.identity_checks import verification_figures
from bench.identity_requests import (
    LOGIN_CLIENTS,
    READ_CLIENTS,
    SECURITY_LOG,
    hello_get_ceiling,
    login_figure,
    read_figure,
    sign_up,
)
from bench.loadgen import LoopResult, rounded
from bench.report import (
    cpu_ms_per_request,
    fmt,
    fmt_ratio,
    footer,
    machine,
    ratio,
    render_table,
)

#: The processes the figures need, in start order, the edge last.
WORKERS: tuple[tuple[str, ...], ...] = (
    ("handler", "accounts"),
    # A sign-up's display name is screened with the word filter's rules.
    ("projection", "security_log,word_filters"),
    ("edge",),
)
#: Settings lifted for the workers: every request comes from 127.0.0.1, which the shipped
#: limits would throttle after a few dozen sign-ups or logins.
LIFTED_LIMITS: dict[str, str] = {
    "QUARK_LIMIT_AUTH_PER_IP": "1000000/min",
    "QUARK_LIMIT_SMS_PER_IP": "1000000/min",
    "QUARK_LOCKOUT_ACCOUNT_FAILURES": "1000000",
    "QUARK_LOCKOUT_IP_FAILURES": "1000000",
}

#: How each figure is measured, one line each (printed, and kept in the report).
MEASURED: dict[str, str] = {
    "token_verifications_per_s": "TokenService.verify of tokens it has not seen, in this "
    "process, one core, ring loaded from the signing_keys bucket beforehand (pure CPU)",
    "token_verifications_cached_per_s": "TokenService.verify of a token whose signature it "
    "checked before (what the edge pays on a client's later requests): claims, expiry, key",
    "token_verifications_with_revocation_check_per_s": "verify + the ended-session check "
    "(core.access barrier and in-memory lookup) by 64 asyncio tasks in this process",
    "authenticated_requests_per_s_64": f"GET {SECURITY_LOG} through a fresh edge process, 64 "
    "closed-loop Python clients, each with a signed-up account's access token (best of the "
    "rounds)",
    "authenticated_requests_per_s_64_without_read_your_writes": "the same through a twin edge "
    "started beside it with QUARK_READ_YOUR_WRITES=false, in rounds alternating with it",
    "logins_per_s": "POST /v1/auth/login through the edge at 1/4/16 closed-loop clients, "
    "shipped argon2id cost, client i of n using accounts i, i+n, ... in turn",
    "argon2_verifies_per_s_1core": "handlers.accounts.credentials.Passwords.verify in this "
    "process, same cost, one at a time (one core); all-cores: one per core",
    "ed25519_verifies_per_s_1core": "bare Ed25519PublicKey.verify of a token's signing input, "
    "one core, same loop as the token figure",
    "aiohttp_hello_get_per_s_64": "the same 64 Python clients and headers against "
    "bench/hello.py (a hello-world aiohttp GET)",
}


@dataclass(frozen=True)
class Sizes:
    accounts: int
    sign_up_concurrency: int
    cpu_seconds: float
    http_seconds: float
    warmup_seconds: float
    max_requests: int
    overall_timeout: float


FULL = Sizes(
    accounts=64,
    sign_up_concurrency=8,
    cpu_seconds=5.0,
    http_seconds=10.0,
    warmup_seconds=2.0,
    max_requests=200_000,
    overall_timeout=540.0,
)
QUICK = Sizes(
    accounts=16,
    sign_up_concurrency=8,
    cpu_seconds=2.0,
    http_seconds=3.0,
    warmup_seconds=0.5,
    max_requests=50_000,
    overall_timeout=240.0,
)

# --- the run ------------------------------------------------------------------------------


async def run(sizes: Sizes, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    if sizes.accounts % max(LOGIN_CLIENTS):
        raise BenchSetupError(f"{sizes.accounts} accounts do not split over the login clients")
    with tempfile.TemporaryDirectory(prefix="quark-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with AsyncExitStack() as stack:
            setup = await set_up(tmp, stack, say, WORKERS, LIFTED_LIMITS)
            platform = setup.platform
            tokens = access_tokens(setup.tokens, READ_CLIENTS)
            verified = await verification_figures(setup, tokens, sizes, say)
            hello = await hello_get_ceiling(tmp, tokens, sizes, say)

            say(
                "starting the platform: quark run handler accounts / projection security_log "
                "/ edge (per-IP limits and lockout thresholds raised)"
            )
            stack.callback(platform.stop)
            await asyncio.to_thread(platform.start)
            connector = aiohttp.TCPConnector(limit=READ_CLIENTS)
            async with aiohttp.ClientSession(platform.base_url, connector=connector) as session:
                await platform.wait_ready(session)
                await platform.wait_handlers(setup.infra.nc)
                accounts, sign_up_seconds = await sign_up(platform, session, sizes, say)
                reads = await read_figure(platform, session, accounts, sizes, say)
                logins = await login_figure(platform, session, accounts, sizes, say)
            say("stopping the platform")
            await asyncio.to_thread(platform.stop)
    return assemble(
        sizes, quick, setup, verified, hello, reads, logins, len(accounts), sign_up_seconds
    )


def assemble(
    sizes: Sizes,
    quick: bool,
    setup: Setup,
    verified: dict[str, LoopResult],
    hello: LoopResult,
    reads: dict[str, list[tuple[LoopResult, dict[str, float]]]],
    logins: dict[int, tuple[LoopResult, dict[str, float]]],
    accounts: int,
    sign_up_seconds: float,
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    plain, checked, ed = verified["verify"], verified["verify_and_check"], verified["ed25519"]
    cached = verified["verify_cached"]
    argon_1, argon_all = verified["argon2_1"], verified[f"argon2_{cores}"]
    # Best round of each (the machine's speed drifts; the best is the least disturbed).
    read, read_cores = max(reads["with"], key=lambda r: r[0].per_s)
    plain_read, _ = max(reads["without"], key=lambda r: r[0].per_s)
    figures: dict[str, float | None] = {
        "token_verifications_per_s": round(plain.per_s, 1),
        "token_verifications_cached_per_s": round(cached.per_s, 1),
        "token_verifications_with_revocation_check_per_s": round(checked.per_s, 1),
        "authenticated_requests_per_s_64": round(read.per_s, 1),
        "authenticated_requests_p50_ms_64": rounded(read.p50_ms),
        "authenticated_requests_p99_ms_64": rounded(read.p99_ms),
        "authenticated_requests_per_s_64_without_read_your_writes": round(plain_read.per_s, 1),
    }
    for clients, (result, _) in logins.items():
        figures[f"logins_per_s_{clients}"] = round(result.per_s, 1)
        figures[f"logins_p50_ms_{clients}"] = rounded(result.p50_ms)
        figures[f"logins_p99_ms_{clients}"] = rounded(result.p99_ms)
    ceilings_out: dict[str, float | None] = {
        "ed25519_verifies_per_s_1core": round(ed.per_s, 1),
        "argon2_verifies_per_s_1core": round(argon_1.per_s, 1),
        "argon2_verify_p50_ms": rounded(argon_1.p50_ms),
        "argon2_verifies_per_s_all_cores": round(argon_all.per_s, 1),
        "aiohttp_hello_get_per_s_64": round(hello.per_s, 1),
        "aiohttp_hello_get_p50_ms_64": rounded(hello.p50_ms),
        "aiohttp_hello_get_p99_ms_64": rounded(hello.p99_ms),
    }
    ratios: dict[str, float | None] = {
        "token_verifications_per_s_vs_ed25519": ratio(plain.per_s, ed.per_s),
        "token_verifications_cached_per_s_vs_first": ratio(cached.per_s, plain.per_s),
        "token_verifications_with_revocation_check_per_s_vs_verify": ratio(
            checked.per_s, plain.per_s
        ),
        "authenticated_requests_per_s_64_vs_aiohttp_hello": ratio(read.per_s, hello.per_s),
        "authenticated_requests_per_s_64_vs_without_read_your_writes": ratio(
            read.per_s, plain_read.per_s
        ),
        "logins_p50_ms_1_vs_argon2_verify": ratio(logins[1][0].p50_ms, argon_1.p50_ms),
    }
    for clients, (result, _) in logins.items():
        ratios[f"logins_per_s_{clients}_vs_argon2_1core"] = ratio(result.per_s, argon_1.per_s)
        ratios[f"logins_per_s_{clients}_vs_argon2_all_cores"] = ratio(result.per_s, argon_all.per_s)
    busiest = max(logins)
    login_result, login_cores = logins[busiest]
    settings = setup.infra.settings
    return {
        **figures,
        "ceilings": ceilings_out,
        "ratios": ratios,
        "measured": MEASURED,
        "details": {
            "token_verify": plain.summary(),
            "token_verify_cached": cached.summary(),
            "token_verify_with_revocation_check": checked.summary(),
            "ed25519_verify": ed.summary(),
            "argon2_verify_1core": argon_1.summary(),
            "argon2_verify_all_cores": argon_all.summary(),
            "authenticated_requests_64": read.summary() | {"first_error": read.first_error},
            "authenticated_requests_64_rounds": {
                label: [round(r.per_s, 1) for r, _ in results] for label, results in reads.items()
            },
            "authenticated_requests_64_without_read_your_writes": plain_read.summary()
            | {"first_error": plain_read.first_error},
            "aiohttp_hello_get_64": hello.summary(),
            **{
                f"logins_{clients}": result.summary() | {"first_error": result.first_error}
                for clients, (result, _) in logins.items()
            },
            "cores_used_during_authenticated_requests_64": read_cores,
            "cpu_ms_per_authenticated_request_64": cpu_ms_per_request(read_cores, read.per_s),
            f"cores_used_during_logins_{busiest}": login_cores,
            f"cpu_ms_per_login_{busiest}": cpu_ms_per_request(login_cores, login_result.per_s),
            "accounts": accounts,
            "sign_up_seconds": round(sign_up_seconds, 2),
        },
        "password_hash": {
            "memory_kib": settings.password_hash_memory_kib,
            "iterations": settings.password_hash_iterations,
        },
        "limits_lifted_for_the_run": LIFTED_LIMITS,
        "mode": "quick" if quick else "full",
        "sizes": dataclasses.asdict(sizes),
        "backends": setup.backends.origins,
        "load_generator": "python (aiohttp client)",
        **machine(),
    }


# --- the report ---------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    c = result["ceilings"]
    r = result["ratios"]
    cores = result["cpu_count"]
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        label: str,
        value: float | None,
        unit: str,
        latency: tuple[float | None, float | None] | None,
        bound: str,
        ratio_key: str,
    ) -> None:
        p50, p99 = latency or (None, None)
        rows.append(
            (
                label,
                fmt(value, unit),
                fmt(p50, "ms"),
                fmt(p99, "ms"),
                bound,
                fmt_ratio(r[ratio_key]),
            )
        )

    def extra(bound: str, ratio_key: str) -> None:
        rows.append(("", "", "", "", bound, fmt_ratio(r[ratio_key])))

    row(
        "token verifications/s, 1 core",
        result["token_verifications_per_s"],
        "/s",
        None,
        f"{fmt(c['ed25519_verifies_per_s_1core'], '/s')} Ed25519 verify, 1 core",
        "token_verifications_per_s_vs_ed25519",
    )
    row(
        "  remembered token, 1 core",
        result["token_verifications_cached_per_s"],
        "/s",
        None,
        f"{fmt(result['token_verifications_per_s'], '/s')} first check",
        "token_verifications_cached_per_s_vs_first",
    )
    row(
        "  + revocation check, 64 tasks",
        result["token_verifications_with_revocation_check_per_s"],
        "/s",
        None,
        f"{fmt(result['token_verifications_per_s'], '/s')} verify alone",
        "token_verifications_with_revocation_check_per_s_vs_verify",
    )
    row(
        "GET security-log, 64 clients",
        result["authenticated_requests_per_s_64"],
        "/s",
        (result["authenticated_requests_p50_ms_64"], result["authenticated_requests_p99_ms_64"]),
        f"{fmt(c['aiohttp_hello_get_per_s_64'], '/s')} aiohttp hello GET, 64",
        "authenticated_requests_per_s_64_vs_aiohttp_hello",
    )
    row(
        "  without read-your-writes",
        result["authenticated_requests_per_s_64_without_read_your_writes"],
        "/s",
        None,
        f"{fmt(result['authenticated_requests_per_s_64'], '/s')} with it: ratio ≥ 0.9 wanted",
        "authenticated_requests_per_s_64_vs_without_read_your_writes",
    )
    for clients in LOGIN_CLIENTS:
        row(
            f"logins/s, {clients} client{'s' if clients > 1 else ''}",
            result[f"logins_per_s_{clients}"],
            "/s",
            (result[f"logins_p50_ms_{clients}"], result[f"logins_p99_ms_{clients}"]),
            f"{fmt(c['argon2_verifies_per_s_1core'], '/s')} argon2 verify, 1 core",
            f"logins_per_s_{clients}_vs_argon2_1core",
        )
        if clients > 1:
            extra(
                f"{fmt(c['argon2_verifies_per_s_all_cores'], '/s')} argon2 verify, {cores} cores",
                f"logins_per_s_{clients}_vs_argon2_all_cores",
            )
    row(
        "login p50, 1 client",
        result["logins_p50_ms_1"],
        "ms",
        None,
        f"{fmt(c['argon2_verify_p50_ms'], 'ms')} floor: one argon2 verify",
        "logins_p50_ms_1_vs_argon2_verify",
    )
    headers = ("figure", "value", "p50", "p99", "ceiling / floor", "ratio")
    return render_table(headers, rows, right={1, 2, 3, 5})


def details_text(result: dict[str, Any]) -> str:
    d = result["details"]
    ph = result["password_hash"]
    busiest = max(LOGIN_CLIENTS)
    lines = [
        "ratio: throughput = value / ceiling (1.00 = at the ceiling); "
        "latency = value / floor (1.00 = at the floor).",
        *(f"{name}: {how}" for name, how in result["measured"].items()),
        f"password hash: argon2id, {ph['memory_kib']} KiB, {ph['iterations']} passes "
        "(the shipped defaults)",
        "all requests come from 127.0.0.1, so these limits were raised for the workers "
        "(the limiter still runs): "
        + ", ".join(f"{k}={v}" for k, v in result["limits_lifted_for_the_run"].items()),
        f"accounts: {d['accounts']} created through sign-up in {d['sign_up_seconds']:.1f}s",
        "requests: "
        + ", ".join(
            f"{name} {d[key]['requests']:,} ({d[key]['errors']} errors)"
            for name, key in [
                ("GET security-log", "authenticated_requests_64"),
                *((f"logins {n}", f"logins_{n}") for n in LOGIN_CLIENTS),
            ]
        ),
        f"verify + revocation check: p50 {d['token_verify_with_revocation_check']['p50_ms']} ms, "
        f"p99 {d['token_verify_with_revocation_check']['p99_ms']} ms per check (64 in flight)",
        "cores used during 64-client GETs: "
        + ", ".join(
            f"{k} {v:.2f}" for k, v in d["cores_used_during_authenticated_requests_64"].items()
        ),
        "CPU ms per GET (64 clients): "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["cpu_ms_per_authenticated_request_64"].items()),
        f"cores used during {busiest}-client logins: "
        + ", ".join(f"{k} {v:.2f}" for k, v in d[f"cores_used_during_logins_{busiest}"].items()),
        f"CPU ms per login ({busiest} clients): "
        + ", ".join(f"{k} {v:.1f}" for k, v in d[f"cpu_ms_per_login_{busiest}"].items()),
        *footer(result),
    ]
    return "\n".join(lines)
