"""The operator's commands on the log and the keys: `quark streams`, `quark keys`, `quark
admin` (roles from the console) and `quark replay` with its progress bar."""

from __future__ import annotations

import json
import sys
import time
from contextlib import AsyncExitStack

from core.errors import ConfigError
from core.settings import Settings
from station.servers import apply_streams, open_infra_for, require_external


async def cmd_streams(settings: Settings, action: str, *, as_json: bool) -> int:
    import nats

    from core import streams

    settings = require_external(settings)
    if action == "apply":
        return 0 if await apply_streams(settings) else 1
    decl = streams.load(settings.streams_file)
    nc = await nats.connect(settings.nats_url.split(","), connect_timeout=3)
    try:
        rows = await streams.show(nc.jetstream(), decl)
    finally:
        await nc.close()
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'STREAM':<10} {'STATE':<8} {'MESSAGES':>10} {'BYTES':>12} {'LAST SEQ':>10}  CONSUMERS")
    for r in rows:
        consumers = ", ".join(
            f"{c['name']} (pending {c['pending']})" for c in r.get("consumers", [])
        )
        print(
            f"{r['stream']:<10} {r['state']:<8} {r.get('messages', 0):>10} "
            f"{r.get('bytes', 0):>12} {r.get('last_seq', 0):>10}  {consumers or '-'}"
        )
    return 0


async def cmd_keys(settings: Settings, action: str) -> int:
    from core.bootstrap import connect_nats, secret_key
    from core.signing_keys import KeyRing, signing_key_of

    settings = require_external(settings)
    now = int(time.time())
    nc = await connect_nats(settings, "quark-keys")
    try:
        ring = await KeyRing.connect(nc.jetstream(), secret_key(settings))
        if action == "rotate":
            rotation = await ring.rotate(now)
            print(f"new signing key {rotation.new.kid}")
            for key in rotation.retiring:
                print(f"  {key.kid} verifies until {_utc(key.retire_at)}, then retires")
            for kid in rotation.removed:
                print(f"  {kid} removed (retired)")
            return 0
        signing = signing_key_of(ring.keys, now)
    finally:
        await nc.close()
    print(f"{'KID':<14} {'CREATED':<20} {'RETIRE AT':<20} STATE")
    for key in reversed(ring.keys):
        state = "signing" if key is signing else key.state(now)
        print(f"{key.kid:<14} {_utc(key.created_at):<20} {_utc(key.retire_at):<20} {state}")
    return 0


async def cmd_admin(settings: Settings, action: str, who: str, role: str, reason: str) -> int:
    """Runs the accounts procedure in this process (no handler needs to be running): the
    operator at the console holds the infrastructure's keys anyway, so they act as admin."""

    from core.errors import QuarkError

    settings = require_external(settings)
    try:
        return await _admin(settings, action, who, role, reason)
    except QuarkError as exc:
        print(f"quark admin: {exc.detail}", file=sys.stderr)
        return 1


async def _admin(settings: Settings, action: str, who: str, role: str, reason: str) -> int:
    from core.commands import CommandMeta
    from core.envelope import utc_now
    from core.ids import is_uuid, new_id
    from handlers.accounts import admin
    from handlers.accounts.commands import GrantRole, RevokeRole

    async with AsyncExitStack() as stack:
        infra = await open_infra_for(settings, stack, "quark-admin")
        user_id = who if is_uuid(who) else await admin.user_of_phone(infra, who)
        if not user_id:
            print(f"quark admin: no account has {who}", file=sys.stderr)
            return 1
        meta = CommandMeta(
            command_id=new_id(),
            actor=None,
            roles=frozenset({"admin"}),
            correlation_id=new_id(),
            received_at=utc_now(),
        )
        reason = reason or "quark admin (console)"
        if action == "grant":
            reply = await admin.grant_role(
                infra, GrantRole(user_id=user_id, role=role, reason=reason), meta
            )
        else:
            reply = await admin.revoke_role(
                infra, RevokeRole(user_id=user_id, role=role, reason=reason), meta
            )
    roles = ", ".join((reply.result or {}).get("roles", []))
    print(f"{user_id}: roles now {roles} (position {reply.position})")
    print("Tokens already issued keep their roles until they are refreshed (at most 15 min).")
    return 0


def _utc(unix: int | None) -> str:
    if unix is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(unix))


class ProgressBar:
    """One line on stderr: bar, percentage, events/s, ETA (redrawn at most ten times a second)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._last = 0.0

    def __call__(self, progress) -> None:
        now = time.perf_counter()
        if now - self._last < 0.1 and progress.done < progress.total:
            return
        self._last = now
        total = max(progress.total, 1)
        frac = min(progress.done / total, 1.0)
        bar = "#" * int(frac * 30)
        rate = progress.rate
        remaining = (
            (total - progress.done) / (progress.done / (now - progress.started))
            if progress.done
            else 0
        )
        print(
            f"\r  {self.name:<14} [{bar:<30}] {frac * 100:5.1f}% "
            f"{progress.done:>9,}/{total:,} msgs  {rate:>9,.0f} events/s  ETA {remaining:4.0f}s",
            end="",
            file=sys.stderr,
            flush=True,
        )


async def cmd_replay(settings: Settings, name: str | None) -> int:
    from core.projection_worker import sink_for
    from core.replay import replay
    from projections import projections

    settings = require_external(settings)
    known = projections()
    if name is not None and name not in known:
        raise ConfigError(f"no projection named {name!r}; known: {', '.join(sorted(known))}")
    targets = [known[name]] if name else list(known.values())
    async with AsyncExitStack() as stack:
        infra = await open_infra_for(settings, stack, "quark-replay")
        for projection in targets:
            report = await replay(
                projection,
                sink_for(projection, infra),
                infra.nc,
                infra.registry,
                infra.decl.file.consumers[projection.name],
                settings.nats_url,
                on_progress=ProgressBar(projection.name),
            )
            print(
                f"\n  {projection.name}: build {report.previous_build} -> {report.build}, "
                f"{report.messages:,} messages, {report.events:,} events applied in "
                f"{report.seconds:.2f}s ({report.events_per_s:,.0f} events/s); readers switched",
                file=sys.stderr,
            )
    return 0
