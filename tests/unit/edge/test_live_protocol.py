"""The live channel's frames and per-connection limits, without a socket."""

from __future__ import annotations

import msgspec
import pytest

from edge import live_connection
from edge import live_frames as frames
from edge.live_hub import text_frame


def test_every_client_frame_type_has_a_handler_and_every_handler_a_frame_type() -> None:
    union = {cls.__struct_config__.tag for cls in frames.ClientFrame.__args__}
    assert union == live_connection.FRAME_TYPES == {"auth", "ping", "send", "read", "typing"}


def test_an_auth_frame_decodes_with_or_without_a_cursor() -> None:
    decode = frames.decode_frame.decode
    assert decode(b'{"type": "auth", "token": "t"}') == frames.Auth("t")
    assert decode(b'{"type": "auth", "token": "t", "cursor": 7}') == frames.Auth("t", 7)


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type": "auth", "token": "t", "cursor": -1}',
        b'{"type": "auth", "token": "t", "cursor": 9223372036854775808}',
        b'{"type": "auth", "token": "t", "cursor": 1.5}',
        b'{"type": "auth", "token": ""}',
        b'{"type": "ping", "x": 1}',
    ],
)
def test_a_frame_out_of_bounds_or_with_unknown_fields_is_refused(frame: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        frames.decode_frame.decode(frame)


def test_server_frames_carry_their_type_first() -> None:
    encoded = msgspec.json.encode(frames.Item(5, msgspec.Raw(b'{"type":"note"}')))
    assert encoded == b'{"type":"item","cursor":5,"item":{"type":"note"}}'


def test_a_token_bucket_allows_its_burst_then_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(live_connection.time, "monotonic", lambda: now[0])
    bucket = live_connection.TokenBucket(rate=2, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 60  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_an_item_framed_once_is_a_whole_unmasked_text_frame(size: int) -> None:
    payload = b"x" * size
    wire = text_frame(payload)
    assert wire[0] == 0x81  # FIN, text
    assert wire[1] & 0x80 == 0  # a server's frames are never masked
    length = wire[1] & 0x7F
    if length == 126:
        assert int.from_bytes(wire[2:4], "big") == size and wire[4:] == payload
    elif length == 127:
        assert int.from_bytes(wire[2:10], "big") == size and wire[10:] == payload
    else:
        assert length == size < 126 and wire[2:] == payload
