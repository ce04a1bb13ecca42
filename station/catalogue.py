"""Which modules the station has: every handler context, every read model, the edge, the
workers that are modules of their own, the hub, and the optional modules, which may be
written in other languages. What the hub expects to find running (a missing one is `down`)
and what the manager can start, stop and scale."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError

#: Workers started with a context's handlers that are modules of their own.
WORKERS = {"media-worker": "media", "sms-sender": "accounts", "push-sender": "accounts"}
#: The platform's root (modules in other languages live under it).
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProcessModule:
    """A module that is a program of its own, in any language: `quark up` starts it as a
    child process and compose runs it as a service of its own image. It docks like every
    Python module (docs/architecture.md, "Modules in other languages"): a NATS micro service
    named `quark-<name>`, the kernel's envelope, subjects and replies."""

    kind: str
    #: Its folder, relative to the platform's root.
    directory: str
    #: The program and its arguments, run in `directory`; `command[0]` is looked up on PATH.
    command: tuple[str, ...]
    #: What its installation leaves in `directory` (missing: not installed yet).
    installed: str
    #: The command that installs it, run in `directory` (`./dev` does when needed).
    install: str

    @property
    def path(self) -> Path:
        return ROOT / self.directory


#: Modules a station may run or not (`QUARK_OPTIONAL_MODULES`).
OPTIONAL: dict[str, ProcessModule] = {
    # Serves the links context's commands (handlers/links): fetches a linked page.
    "link-preview": ProcessModule(
        kind="handler",
        directory="modules/link-preview",
        command=("node", "src/main.js"),
        installed="node_modules",
        install="npm ci",
    ),
}


def optional_modules(names: Iterable[str]) -> dict[str, ProcessModule]:
    """The optional modules named.

    Raises:
        ConfigError: for a name the catalogue does not know.
    """
    out = {}
    for name in names:
        if name not in OPTIONAL:
            raise ConfigError(
                f"no optional module named {name!r}; known: {', '.join(sorted(OPTIONAL))}"
            )
        out[name] = OPTIONAL[name]
    return out


def running_optional(without: Iterable[str]) -> list[str]:
    """The optional modules this station runs: all but those it runs `without`
    (`Settings.without_module_names()`, QUARK_WITHOUT_MODULES).

    Raises:
        ConfigError: when `without` names a module the catalogue does not know.
    """
    try:
        skipped = optional_modules(without)
    except ConfigError as exc:
        raise ConfigError(f"QUARK_WITHOUT_MODULES: {exc}") from None
    return [name for name in OPTIONAL if name not in skipped]


def modules(optional: Iterable[str] = ()) -> dict[str, str]:
    """Module name -> kind: the Python modules, and the `optional` ones this station runs.

    A context whose commands another module serves (`handlers.served_by`) is no module of
    its own: its module is listed under its own name when it runs here.
    """
    from handlers import contexts, served_by
    from projections import projections

    out = {name: "handler" for name, m in contexts().items() if served_by(m) is None}
    out.update({f"projection-{name}": "projection" for name in projections()})
    out.update({name: "worker" for name in WORKERS})
    out.update({"edge": "edge", "hub": "hub"})
    out.update({name: module.kind for name, module in optional_modules(optional).items()})
    return out


def station(optional: Iterable[str] = ()) -> object:
    """The hub's view of this station (`hub.app.Station`)."""
    from hub.app import Station
    from projections import projections

    return Station(expected=modules(optional), projections=sorted(projections()))
