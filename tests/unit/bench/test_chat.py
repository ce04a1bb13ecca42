"""The chat suite's pure helpers: the raw server's frames, memory per socket, rates, and the
bookkeeping that times a message from its send to its socket."""

from __future__ import annotations

import json
import time

import pytest

from bench.chat_ceilings import padded_frame
from bench.chat_deliveries import Arrivals, delivery_rate
from bench.chat_sockets import kib_per_socket


@pytest.mark.parametrize("size", [200, 437, 1000])
def test_a_padded_frame_has_the_size_asked_and_reads_as_a_message_item(size: int) -> None:
    frame = padded_frame(size, "m1", cursor=7)
    assert len(frame) == size
    decoded = json.loads(frame)
    assert (decoded["type"], decoded["cursor"]) == ("item", 7)
    assert decoded["item"]["type"] == "message.new"
    assert decoded["item"]["message"]["id"] == "m1"


def test_a_frame_too_small_to_pad_is_as_short_as_it_can_be() -> None:
    assert len(padded_frame(10, "m1")) == len(padded_frame(0, "m1")) > 10


def test_memory_per_socket_is_the_growth_over_the_sockets() -> None:
    assert kib_per_socket(100_000, 115_000, 500) == 30.0
    assert kib_per_socket(100_000, 115_000, 0) is None


def test_a_delivery_rate_runs_from_the_first_send_to_the_last_delivery() -> None:
    assert delivery_rate(1000, 10.0, 12.0) == 500.0
    assert delivery_rate(0, 10.0, 12.0) == 0.0
    assert delivery_rate(5, 10.0, 10.0) == 0.0


def test_only_measured_messages_count_and_each_once() -> None:
    arrivals = Arrivals()
    now = time.perf_counter()
    arrivals.sent["warm"] = (now, False)
    arrivals.sent["m1"] = (now, True)
    for message_id in ("warm", "m1", "m1", "stranger"):
        arrivals.on_frame(0, padded_frame(300, message_id).decode())
    arrivals.on_frame(0, '{"type":"pong"}')
    assert len(arrivals.latencies_ms) == 1 and arrivals.latencies_ms[0] >= 0
    assert arrivals.frame_bytes == 300 and arrivals.sent == {}
