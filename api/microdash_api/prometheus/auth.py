"""Who is asking, for the Prometheus API: a Bearer token or a dashboard session like every read,
and also HTTP Basic with the API token as the password (any user name), because some
Prometheus clients can send nothing else: promtool 2.42's `query` has no way to add a header,
but sends user:password from its URL (http://tenant:TOKEN@host:8080/prometheus)."""

import base64
import binascii
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..auth import TenantContext
from ..deps import StateDep, tenant_of_token, token_or_session_tenant
from .envelope import PrometheusApiError

_ERROR_TYPES = {401: "unauthorized", 403: "forbidden", 503: "unavailable"}


def basic_password(request: Request) -> str | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or None


async def prometheus_tenant(request: Request, state: StateDep) -> TenantContext:
    try:
        password = basic_password(request)
        if password is not None:
            return await tenant_of_token(request, state, password)
        return await token_or_session_tenant(request, state)
    except HTTPException as exc:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = 'Bearer, Basic realm="microdash"'
        raise PrometheusApiError(_ERROR_TYPES.get(exc.status_code, "bad_data"), str(exc.detail),
                                 headers=headers) from None


PrometheusTenant = Annotated[TenantContext, Depends(prometheus_tenant)]
