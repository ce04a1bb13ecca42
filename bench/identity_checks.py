"""Figure 1 of the identity bench and the in-process ceilings: the checks an identity
request pays, on this process's cores.

`TokenService.verify` of tokens signed by the real ring (first seen, and remembered), the
same plus the ended-session check against the in-memory copy of the ACCESS stream, and
their ceilings: the bare Ed25519 check of the same token, and argon2id password checks with
the accounts handler's own class and cost, on one core and on every core (the ceiling of
figure 3's logins). All run before the platform starts, so nothing competes with them.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench import ceilings
from bench.environment import Setup
from bench.identity_requests import READ_CLIENTS
from bench.loadgen import LoopResult, closed_loop
from core.access import AccessList
from core.tokens import TokenService

if TYPE_CHECKING:
    from bench.identity import Sizes


async def verification_figures(
    setup: Setup, tokens: list[str], sizes: Sizes, say: Callable[[str], None]
) -> dict[str, LoopResult]:
    service: TokenService = setup.tokens
    infra = setup.infra
    out: dict[str, LoopResult] = {}

    # The edge remembers checked signatures; the figure is the check itself (a token seen
    # for the first time), so this service remembers nothing. `cached` is the repeat cost.
    cold = TokenService(service.ring, cache_size=0)

    async def verify(i: int) -> str | None:
        await cold.verify(tokens[i], int(time.time()))
        return None

    async def verify_cached(i: int) -> str | None:
        await service.verify(tokens[i], int(time.time()))
        return None

    access = AccessList(infra.nc, infra.settings.nats_url)
    await access.start()

    async def verify_and_check(i: int) -> str | None:
        claims = await service.verify(tokens[i], int(time.time()))
        await access.current()
        return "session revoked" if access.is_revoked(claims.sid) else None

    say(f"figure 1: TokenService.verify, one core, {sizes.cpu_seconds:.0f}s")
    out["verify"] = await closed_loop(
        verify, clients=1, seconds=sizes.cpu_seconds, max_requests=10_000_000, warmup_seconds=0.5
    )
    say(
        f"figure 1: TokenService.verify of a token seen before (remembered), {sizes.cpu_seconds:.0f}s"
    )
    out["verify_cached"] = await closed_loop(
        verify_cached,
        clients=1,
        seconds=sizes.cpu_seconds,
        max_requests=10_000_000,
        warmup_seconds=0.5,
    )
    say(f"figure 1: verify + ended-session check (barrier, memory), {READ_CLIENTS} tasks")
    out["verify_and_check"] = await closed_loop(
        verify_and_check,
        clients=READ_CLIENTS,
        seconds=sizes.cpu_seconds,
        max_requests=10_000_000,
        warmup_seconds=0.5,
    )
    await access.stop()
    say("ceiling: bare Ed25519 checks of the same token")
    header, payload, signature = tokens[0].split(".")
    key = service.ring.signing_key(int(time.time())).public_key
    out["ed25519"] = await ceilings.ed25519_verify(
        key,
        f"{header}.{payload}".encode(),
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        seconds=sizes.cpu_seconds,
    )
    settings = infra.settings
    for threads in (1, os.cpu_count() or 1):
        say(
            f"ceiling: argon2id checks ({settings.password_hash_memory_kib} KiB, "
            f"{settings.password_hash_iterations} passes), {threads} at a time"
        )
        out[f"argon2_{threads}"] = await ceilings.argon2_verify(
            settings.password_hash_memory_kib,
            settings.password_hash_iterations,
            threads=threads,
            seconds=sizes.cpu_seconds,
        )
    return out
