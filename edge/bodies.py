"""Strict request decoding: JSON only, within the size limit, no unknown fields, right types.

Each failure has its own status (415 wrong media type, 413 too large, 400 malformed, 422
invalid) and nothing reaches a handler until the body is exactly what the route declares.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from core.errors import FieldError, QuarkError, ValidationError

T = TypeVar("T")


class UnsupportedMediaType(QuarkError):
    code = "unsupported-media-type"
    status = 415
    title = "The request body must be application/json"


class BodyTooLarge(QuarkError):
    code = "body-too-large"
    status = 413
    title = "The request body is too large"


class MalformedBody(QuarkError):
    code = "malformed-json"
    status = 400
    title = "The request body is not valid JSON"


_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def _field_of(message: str) -> str:
    m = re.search(r"at `\$\.?([^`]*)`", message)
    unknown = re.search(r"unknown field `([^`]+)`", message)
    path = m.group(1) if m else ""
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path.replace("[", ".").replace("]", "") or "$"


def decode_struct(data: bytes, kind: type[T]) -> T:
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = _field_of(message)
        clean = re.sub(r"\s*-\s*at `[^`]*`", "", message)
        status_unknown = "unknown field" in message
        raise ValidationError(
            f"unknown field `{field}`" if status_unknown else clean,
            errors=[FieldError(field, clean)],
        ) from None
    except msgspec.DecodeError as exc:
        raise MalformedBody(str(exc)) from None


async def read_json(request: web.Request, kind: type[T], *, max_bytes: int) -> T:
    if request.content_type != "application/json":
        raise UnsupportedMediaType(f"got {request.content_type or 'no content type'}")
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLarge(f"at most {max_bytes} bytes")
    # request.read() caches the body (the idempotency layer may have read it already) and
    # stops at the application's client_max_size, which the edge sets to max_body_bytes.
    try:
        data = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"at most {max_bytes} bytes") from None
    if len(data) > max_bytes:
        raise BodyTooLarge(f"at most {max_bytes} bytes")
    return decode_struct(data, kind)


async def read_optional_json(request: web.Request, kind: type[T], *, max_bytes: int) -> T:
    """`read_json` for a route whose body may be left out: a request with none at all (no
    bytes, whatever its content type) reads as `{}`, so `kind` must allow that."""
    if not request.body_exists:
        return decode_struct(b"{}", kind)
    return await read_json(request, kind, max_bytes=max_bytes)
