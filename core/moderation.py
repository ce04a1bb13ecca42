"""What the moderation context's published events mean to the contexts that carry them out,
and the reporter weight formula: shared here (the kernel) so that the posts, chat and
accounts contexts read `moderation.DecisionTaken`, `CaseAutoHidden` and `AppealDecided` the
same way without importing the moderation context's internals.

Content states are those of posts, comments and messages: `visible`, `hidden`, `removed`
(and `held`, set by the word filter, not by these events).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.commands import CommandMeta

#: How long after a decision its author may appeal it (Mastodon's window).
APPEAL_WINDOW = timedelta(days=20)
#: Names of the events the owning contexts react to.
DECIDED = "moderation.DecisionTaken"
AUTO_HIDDEN = "moderation.CaseAutoHidden"
APPEAL_DECIDED = "moderation.AppealDecided"
CARRIED_OUT = frozenset({DECIDED, AUTO_HIDDEN, APPEAL_DECIDED})
#: Who acts when nobody did: hiding pending review, the word filter's reports.
SYSTEM = "system"
#: The reason shown with content hidden pending review.
AUTO_HIDE_REASON = "hidden pending review after several reports"

#: The state each content action leaves its target in (the first that applies wins).
_STATE_OF_ACTION = (("remove", "removed"), ("hide", "hidden"), ("restore", "visible"))


def state_after(actions: list[str], *, auto_hidden: bool = False) -> str | None:
    """The content state a decision's actions set, or None when they leave it as it is.
    A target hidden pending review is shown again by a decision with no content action
    (a dismissal, a warning): the review found nothing to hide."""
    state = next((state for action, state in _STATE_OF_ACTION if action in actions), None)
    if state is None and auto_hidden:
        return "visible"
    return state


def moderator(event: Any) -> str:
    """Who acted: the moderator, or the system for hiding pending review."""
    return getattr(event, "moderator_id", None) or SYSTEM


def reason(event: Any) -> str:
    """What the author is shown: the moderator's reason, or why it was hidden pending review."""
    return getattr(event, "reason", None) or AUTO_HIDE_REASON


def meta_of(recorded: Any) -> CommandMeta:
    """The metadata of the command a context appends in carrying out a moderation event: its
    id is the event's position, so a redelivered event is deduplicated."""
    event = recorded.event
    return CommandMeta(
        command_id=f"moderation-{recorded.stream}-{recorded.seq}-{recorded.index}",
        actor=moderator(event),
        roles=frozenset(),
        correlation_id=recorded.envelope.correlation_id,
        received_at=event.at,
    )


def reactor(infra: Any, name: str, react: Callable[[Any], Awaitable[None]]) -> Any:
    """A context's durable reactor to the moderation events it carries out (`CARRIED_OUT`),
    started with its handler worker (`background`)."""
    from core.reactor import Reactor

    return Reactor(
        js=infra.nc.jetstream(),
        registry=infra.registry,
        name=name,
        stream=infra.store.streams.stream_for("moderation"),
        filter_subject="ev.moderation.case.>",
        reacts_to=CARRIED_OUT,
        react=react,
    )


def content_state(event: Any) -> str | None:
    """The state one of the `CARRIED_OUT` events sets on its content target (None: none)."""
    match event.name:
        case "moderation.DecisionTaken":
            return state_after(list(event.actions), auto_hidden=event.auto_hidden)
        case "moderation.CaseAutoHidden":
            return "hidden"
        case "moderation.AppealDecided":
            undoes = {"hide", "remove"} & set(event.actions)
            return "visible" if event.approved and undoes else None
    return None


@dataclass(frozen=True)
class AccountEffect:
    """What a moderation event does to the author's account. `limited`/`suspended` None:
    unchanged; `suspend_until` None with `suspended` True: indefinitely."""

    limited: bool | None = None
    suspended: bool | None = None
    suspend_until: datetime | None = None


def account_effect(event: Any) -> AccountEffect:
    """The account side of a decision or an approved appeal (nothing for auto-hiding)."""
    actions = set(getattr(event, "actions", ()))
    match event.name:
        case "moderation.DecisionTaken":
            if event.target_type == "user" and "restore" in actions:
                return AccountEffect(limited=False, suspended=False)
            return AccountEffect(
                limited=True if "limit" in actions else None,
                suspended=True if "suspend" in actions else None,
                suspend_until=event.suspend_until if "suspend" in actions else None,
            )
        case "moderation.AppealDecided" if event.approved:
            return AccountEffect(
                limited=False if "limit" in actions else None,
                suspended=False if "suspend" in actions else None,
            )
    return AccountEffect()


# -- reporter weight --------------------------------------------------------------------------

#: The weight of a brand-new account's report; it grows linearly to 1 at `FULL_AGE`.
NEW_ACCOUNT_WEIGHT = 0.1
FULL_AGE = timedelta(days=30)


def reporter_weight(account_age: timedelta, upheld: int, dismissed: int) -> float:
    """How much one person's report counts towards hiding a target pending review.

    weight = age x accuracy, where
      age      = 0.1 + 0.9 x min(1, account age / 30 days)  (0.1 for a new account, 1 at 30 days)
      accuracy = 2 x (upheld + 1) / (upheld + dismissed + 2) (1 with no history; towards 2
                 for reports moderators acted on, towards 0 for dismissed ones)

    Like Discourse's flag scores (trust level x accuracy), so ten accounts made today weigh
    as much as one month-old account with no history, and a reporter whose reports keep
    being dismissed stops counting. Upheld: a decision on their report did something other
    than `dismiss`."""
    ratio = min(1.0, max(0.0, account_age / FULL_AGE))
    age = NEW_ACCOUNT_WEIGHT + (1 - NEW_ACCOUNT_WEIGHT) * ratio
    accuracy = 2 * (upheld + 1) / (upheld + dismissed + 2)
    return round(age * accuracy, 4)
