"""What the accounts procedures share (`procedures.py`, `signin.py`, `admin.py`): the
worker's services (password hashing, lockouts), keyed lookups, and what a procedure answers
and announces after its commit (ended sessions go to the ACCESS stream before the answer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers

from core.access import publish_revocations
from core.bootstrap import Infra
from core.bus import Outcome, transact
from core.commands import CommandMeta, CommandReply
from core.ids import derived_id, is_uuid
from core.permissions import require
from core.ratelimit import LockoutPolicy
from handlers.accounts import credentials as cred
from handlers.accounts.account import AccountState
from handlers.accounts.errors import InvalidCredentials, InvalidPhone
from handlers.accounts.events import SessionOpened, SessionRevoked
from handlers.accounts.standing import suspended_now, suspended_until
from handlers.accounts.verdict import Verdict


class Services:
    """What the procedures need besides the `Infra`: built once per process."""

    def __init__(self, infra: Infra) -> None:
        s = infra.settings
        self.passwords = cred.Passwords(s.password_hash_memory_kib, s.password_hash_iterations)
        self.login_account = LockoutPolicy(
            "login-account",
            s.lockout_account_failures,
            s.lockout_base_seconds,
            s.lockout_max_seconds,
        )
        self.login_ip = LockoutPolicy(
            "login-ip", s.lockout_ip_failures, s.lockout_base_seconds, s.lockout_max_seconds
        )
        self.second_factor = LockoutPolicy(
            "second-factor",
            s.lockout_account_failures,
            s.lockout_base_seconds,
            s.lockout_max_seconds,
        )


def services(infra: Infra) -> Services:
    found = infra.extras.get("accounts")
    if found is None:
        found = infra.extras["accounts"] = Services(infra)
    return found


def normalise_phone(raw: str) -> str:
    """E.164 (`+79161234567`), or `InvalidPhone`. Numbers without a country code are not
    guessed: the client sends the full international number."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("give the number in international format, e.g. +79161234567") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("this number does not exist in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def hash_phone(infra: Infra, phone: str) -> str:
    return infra.vault.lookup_hash("phone", phone)


def phone_claim_id(infra: Infra, phone_hash: str) -> str:
    return derived_id(infra.secret_key, "phone-claim", phone_hash)


def ip_lookup_key(infra: Infra, ip: str) -> str:
    return infra.vault.lookup_hash("ip", ip or "unknown")


async def seal_ip(infra: Infra, user_id: str, ip: str) -> Any:
    return await infra.vault.seal(user_id, "ip", ip) if ip else None


async def transact_verdict(
    infra: Infra, kind: Any, aggregate_id: str, decide: Any, meta: CommandMeta, **kw: Any
) -> Outcome[Any]:
    """`transact` for decisions that may commit a failure record and then fail."""
    verdicts: list[Verdict] = []

    def run(state: Any) -> list[Any]:
        verdicts.clear()
        verdict = decide(state)
        verdicts.append(verdict)
        return verdict.events

    outcome = await transact(infra.store, kind, aggregate_id, run, meta, **kw)
    if verdicts and verdicts[-1].error is not None and not outcome.duplicate:
        raise verdicts[-1].error
    return outcome


def command_reply(
    outcome: Outcome[Any], aggregate_id: str, *, writer: str | None = None, **result: Any
) -> CommandReply:
    """`writer`: the person an anonymous command signed in (their reads must see it)."""
    return CommandReply(
        ok=True,
        position=outcome.position,
        aggregate_id=aggregate_id,
        duplicate=outcome.duplicate,
        result=result or None,
        writer=writer,
    )


async def publish_ended_sessions(infra: Infra, user_id: str, outcome: Outcome[Any]) -> None:
    """Ended sessions stop working on the next request: their ids are durable in the ACCESS
    stream before the command is answered (on a retry, the account's recently ended
    sessions go again, deduplicated by message id)."""
    ended = [e.session_id for e in outcome.events if isinstance(e, SessionRevoked)]
    if outcome.duplicate and isinstance(outcome.state, AccountState):
        ended = list(outcome.state.revoked)
    await publish_revocations(infra.nc.jetstream(), user_id, ended)


def new_session(
    infra: Infra, meta: CommandMeta, user_id: str, device: str, ip: Any, method: str
) -> tuple[SessionOpened, str]:
    session_id = derived_id(infra.secret_key, "session", meta.command_id)
    token = cred.refresh_token(infra.secret_key, user_id, session_id, meta.command_id)
    event = SessionOpened(
        user_id=user_id,
        session_id=session_id,
        refresh_hash=cred.token_hash(token),
        device=device[:200],
        ip=ip,
        method=method,
        opened_at=meta.received_at,
    )
    return event, token


def token_result(
    user_id: str, session_id: str, refresh: str, account: AccountState, now: datetime
) -> dict[str, Any]:
    """What the edge issues the access token from. `restricted` while the account is
    suspended at `now` (a suspended person's session reaches only what they may still do),
    with the suspension's end (None: indefinitely)."""
    end = suspended_until(account, now)
    return {
        "user_id": user_id,
        "session_id": session_id,
        "refresh_token": refresh,
        "roles": account.roles,
        "restricted": suspended_now(account, now),
        "suspended_until": end.isoformat() if end else None,
    }


def signed_in_actor(meta: CommandMeta) -> str:
    if not meta.actor or not is_uuid(meta.actor):
        raise InvalidCredentials("sign in first")
    require(meta.roles, "account.manage_own")
    return meta.actor
