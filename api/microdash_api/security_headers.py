"""Security headers on every answer: no framing, no MIME sniffing, no referrer to other sites, and
a Content-Security-Policy fitting what the answer is. The built dashboard loads only its own
scripts (Vite emits no inline script); inline styles stay allowed because Vue and uPlot set
style attributes. JSON answers may load nothing at all. A route that sets its own policy (the
API reference) keeps it."""

DASHBOARD_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
                    " font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self';"
                    " frame-ancestors 'none'")
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'"
ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
          (b"x-frame-options", b"DENY"))


class SecurityHeaders:
    """ASGI middleware adding the headers a response does not set itself."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = _with_security_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower(): value for name, value in headers}
    for name, value in ALWAYS:
        if name not in present:
            headers.append((name, value))
    if b"content-security-policy" not in present:
        html = present.get(b"content-type", b"").startswith(b"text/html")
        headers.append((b"content-security-policy", (DASHBOARD_POLICY if html else NOTHING_POLICY).encode()))
    return headers
