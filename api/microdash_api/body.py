"""Request body size limits, enforced before a body is parsed, for every route (BodySizeLimit),
and reading ingest's JSON body (read_json_body, or read_json_bytes and parse_json) and the
protocols' compressed bodies (read_decoded_body) within them."""

import zlib

import orjson
from fastapi import Request

from .errors import ApiError


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int):
        super().__init__(413, f"body larger than {max_bytes} bytes")


async def read_json_body(request: Request) -> object:
    """The body's JSON; its size was already bounded by BodySizeLimit, which refuses a large
    declared length at once and counts what is read (413 raised from request.stream())."""
    return parse_json(await read_json_bytes(request))


async def read_json_bytes(request: Request) -> bytes:
    """The body of a request that declares JSON, not yet decoded (bounded as read_json_body's)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    return await request.body()


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, f"malformed JSON: {exc}") from exc


# Content-Encoding -> zlib's wbits: gzip's header and trailer, or HTTP's "deflate" (a zlib stream).
DECODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def read_decoded_body(request: Request, max_bytes: int) -> bytes:
    """The body, decompressed when its Content-Encoding is gzip (Telegraf's and the OTLP exporters'
    default) or deflate; never more than `max_bytes` once decompressed, counted while decompressing."""
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in DECODINGS:
        raise ApiError(415, "Content-Encoding must be gzip, deflate or absent")
    return decompress_bounded(raw, max_bytes, encoding)


def decompress_bounded(data: bytes, max_bytes: int, encoding: str = "gzip") -> bytes:
    """Every member of `data` decompressed (a gzip stream may hold several, as Go's reader accepts);
    413 past `max_bytes` of output, 400 for bytes that are not of the encoding or stop early."""
    parts: list[bytes] = []
    size = 0
    while True:
        decompressor = zlib.decompressobj(wbits=DECODINGS[encoding])
        try:
            part = decompressor.decompress(data, max_bytes - size + 1)
        except zlib.error as exc:
            raise ApiError(400, f"body is not valid {encoding}: {exc}") from exc
        size += len(part)
        if size > max_bytes:
            raise ApiError(413, f"body larger than {max_bytes} bytes once decompressed")
        if not decompressor.eof:
            raise ApiError(400, f"{encoding} body is truncated")
        parts.append(part)
        data = decompressor.unused_data
        if not data:
            return b"".join(parts)


class BodySizeLimit:
    """ASGI middleware: every request body is limited before any of it is parsed, by its declared
    Content-Length at once and by counting what is read, for bodies sent without one (chunked).

    `limits` maps path prefixes to their own, larger limit (ingest takes batches of samples)."""

    def __init__(self, app, *, default: int, limits: dict[str, int]):
        self.app = app
        self.default = default
        self.limits = limits

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.limits.items() if path.startswith(prefix)), self.default)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > max_bytes:
            return await _refuse(send, max_bytes)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
            return message

        started = False

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, max_bytes)


async def _refuse(send, max_bytes: int) -> None:
    body = orjson.dumps({"detail": f"body larger than {max_bytes} bytes"})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
