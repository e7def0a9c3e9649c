"""/api/v1/alerts/channels: where notifications go. Secrets are write-only: responses only say
whether one is set."""

from typing import Annotated, Literal

import orjson
import pymysql
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field, model_validator

from .. import alerts_repository as repo
from ..deps import ReaderTenant, StateDep, WriterTenant
from ..errors import ApiError

router = APIRouter(prefix="/api/v1/alerts/channels", tags=["alerts"])
ChannelId = Annotated[int, Path(ge=1)]
REQUIRED_CONFIG = {"webhook": ("url",), "slack": ("url",), "email": ("host", "sender", "recipients")}


class ChannelIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["webhook", "email", "slack"]
    config: dict = Field(description="webhook: url, optional template and content_type; slack: url; email: host, "
                                     "port, sender, recipients, username, tls (none|starttls|tls), cert_bundle")
    secret: str | None = Field(None, max_length=255, description="webhook HMAC key or SMTP password; never returned")
    enabled: bool = True

    @model_validator(mode="after")
    def _config_is_complete(self) -> "ChannelIn":
        missing = [key for key in REQUIRED_CONFIG[self.kind] if not self.config.get(key)]
        if missing:
            raise ValueError(f"{self.kind} channel config needs {', '.join(missing)}")
        url = self.config.get("url")
        if url is not None and not str(url).startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.kind == "email" and self.config.get("tls", "starttls") not in ("none", "starttls", "tls"):
            raise ValueError("tls must be none, starttls or tls")
        return self


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    config: dict
    has_secret: bool
    enabled: bool


def _out(row: tuple) -> ChannelOut:
    return ChannelOut(id=row[0], name=row[1], kind=row[2], config=orjson.loads(row[3]), has_secret=bool(row[4]),
                      enabled=bool(row[5]))


async def _existing(state, tenant_id: int, channel_id: int) -> ChannelOut:
    rows = await repo.list_channels(state.db, tenant_id=tenant_id, channel_id=channel_id)
    if not rows:
        raise ApiError(404, "no such channel")
    return _out(rows[0])


@router.get("", response_model=list[ChannelOut])
async def list_channels(tenant: ReaderTenant, state: StateDep) -> list[ChannelOut]:
    return [_out(row) for row in await repo.list_channels(state.db, tenant_id=tenant.id)]


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: ChannelId, tenant: ReaderTenant, state: StateDep) -> ChannelOut:
    return await _existing(state, tenant.id, channel_id)


@router.post("", response_model=ChannelOut, status_code=201)
async def create_channel(body: ChannelIn, tenant: WriterTenant, state: StateDep) -> ChannelOut:
    try:
        channel_id = await repo.insert_channel(state.db, tenant_id=tenant.id, name=body.name, kind=body.kind,
                                               config=body.config, secret=body.secret or "", enabled=body.enabled)
    except pymysql.err.IntegrityError as exc:
        raise ApiError(409, f"a channel named {body.name!r} exists already") from exc
    return await _existing(state, tenant.id, channel_id)


@router.put("/{channel_id}", response_model=ChannelOut)
async def replace_channel(channel_id: ChannelId, body: ChannelIn, tenant: WriterTenant, state: StateDep) -> ChannelOut:
    await _existing(state, tenant.id, channel_id)
    try:
        await repo.update_channel(state.db, tenant_id=tenant.id, channel_id=channel_id, name=body.name, kind=body.kind,
                                  config=body.config, secret=body.secret, enabled=body.enabled)
    except pymysql.err.IntegrityError as exc:
        raise ApiError(409, f"a channel named {body.name!r} exists already") from exc
    return await _existing(state, tenant.id, channel_id)


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: ChannelId, tenant: WriterTenant, state: StateDep) -> Response:
    if not await repo.delete_channel(state.db, tenant_id=tenant.id, channel_id=channel_id):
        raise ApiError(404, "no such channel")
    return Response(status_code=204)
