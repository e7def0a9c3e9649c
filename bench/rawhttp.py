"""A minimal keep-alive HTTP/1.1 POST client on asyncio streams, for the throughput scenarios.

On a small machine the load generator competes with the server for CPU; httpx spends a few
milliseconds of CPU per request, this spends a few tens of microseconds. It understands only
what the microdash API answers with (Content-Length bodies) and is used only against 127.0.0.1.
"""

import asyncio

CONNECT_TIMEOUT_S = 5.0
RESPONSE_TIMEOUT_S = 30.0
MAX_HEADER_LINES = 100
JSON_CONTENT = "Content-Type: application/json\r\n"


class ProtocolError(Exception):
    pass


class RawHttpConnection:
    def __init__(self, host: str, port: int, *, token: str, content_headers: str = JSON_CONTENT):
        self.host, self.port = host, port
        self._fixed_headers = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                               f"{content_headers}").encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        """POST a body (JSON unless content_headers say otherwise); returns the status code (the response body is read and dropped)."""
        if self._writer is None:
            await self._connect()
        request = (f"POST {path} HTTP/1.1\r\n".encode() + self._fixed_headers
                   + f"Content-Length: {len(body)}\r\n\r\n".encode())
        try:
            self._writer.write(request + body)
            await self._writer.drain()
            return await asyncio.wait_for(self._read_response(), RESPONSE_TIMEOUT_S)
        except BaseException:
            await self.close()  # the connection is in an unknown state; the next call reconnects
            raise

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), CONNECT_TIMEOUT_S)

    async def _read_response(self) -> int:
        status_line = await self._reader.readline()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        length, close = await self._read_headers()
        await self._reader.readexactly(length)
        if close:
            await self.close()
        return int(parts[1])

    async def _read_headers(self) -> tuple[int, bool]:
        length, close = 0, False
        for _ in range(MAX_HEADER_LINES):
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                return length, close
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked responses are not supported")
            elif name == b"connection" and value == b"close":
                close = True
        raise ProtocolError("too many header lines")

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
