"""Whether a run left events no projection could apply: the failure an HTTP answer does not
show (the command was answered 200; its event went to the dead-letter queue later)."""

from __future__ import annotations

from tests.support.platform import Platform

#: The streams the platform's projections read.
EVENT_STREAMS = ("ACCOUNTS", "PEOPLE", "CONTENT")


async def assert_nothing_dead_lettered(platform: Platform) -> None:
    """Wait until every projection has passed every event committed so far, then check that
    none of them went to the DLQ stream."""
    js = platform.infra.nc.jetstream()
    for stream in EVENT_STREAMS:
        last = (await js.stream_info(stream)).state.last_seq
        for projection in platform.projection_names:
            await platform.wait(projection, f"{stream}:{last}", timeout=30)
    dead = (await js.stream_info("DLQ")).state.messages
    assert dead == 0, f"{dead} events went to the dead-letter queue"
