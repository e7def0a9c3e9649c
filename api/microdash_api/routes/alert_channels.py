"""/api/v1/alerts/channels: where notifications go. Secrets are write-only: responses only say
whether one is set."""

from typing import Annotated, Literal
from urllib.parse import urlsplit

import orjson
import pymysql
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field, model_validator

from .. import alerts_repository as repo
from ..auth import TenantContext
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
        if self.kind == "email":
            _check_email_config(self.config)
        return self


def _check_email_config(config: dict) -> None:
    if config.get("tls", "starttls") not in ("none", "starttls", "tls"):
        raise ValueError("tls must be none, starttls or tls")
    recipients = config["recipients"]
    if not isinstance(recipients, list) or not all(isinstance(one, str) and "@" in one for one in recipients):
        raise ValueError("recipients must be a list of email addresses")
    port = config.get("port", 25)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError("port must be a number from 1 to 65535")


def _masked(config: dict) -> dict:
    """For viewers: a webhook or Slack URL often is itself a credential; keep its scheme and host."""
    url = config.get("url")
    if not isinstance(url, str):
        return config
    parts = urlsplit(url)
    return {**config, "url": f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"}


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


def _for_reader(channel: ChannelOut, tenant: TenantContext) -> ChannelOut:
    if tenant.role in ("token", "admin"):  # those may rewrite the channel anyway
        return channel
    return channel.model_copy(update={"config": _masked(channel.config)})


@router.get("", response_model=list[ChannelOut])
async def list_channels(tenant: ReaderTenant, state: StateDep) -> list[ChannelOut]:
    return [_for_reader(_out(row), tenant) for row in await repo.list_channels(state.db, tenant_id=tenant.id)]


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: ChannelId, tenant: ReaderTenant, state: StateDep) -> ChannelOut:
    return _for_reader(await _existing(state, tenant.id, channel_id), tenant)


async def _refuse_if_named_by_rules(state, tenant_id: int, channel: ChannelOut, change: str) -> None:
    """Rules name channels: renaming or deleting one they name would silently stop their notifications."""
    naming = sorted(rule.name for rule, _enabled, _managed in await repo.list_rules(state.db, tenant_id=tenant_id)
                    if channel.name in rule.channels)
    if naming:
        raise ApiError(409, f"cannot {change} channel {channel.name!r}: the rules {', '.join(naming)} name it;"
                            " change them first")


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
    current = await _existing(state, tenant.id, channel_id)
    if body.name != current.name:
        await _refuse_if_named_by_rules(state, tenant.id, current, "rename")
    try:
        await repo.update_channel(state.db, tenant_id=tenant.id, channel_id=channel_id, name=body.name, kind=body.kind,
                                  config=body.config, secret=body.secret, enabled=body.enabled)
    except pymysql.err.IntegrityError as exc:
        raise ApiError(409, f"a channel named {body.name!r} exists already") from exc
    return await _existing(state, tenant.id, channel_id)


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: ChannelId, tenant: WriterTenant, state: StateDep) -> Response:
    await _refuse_if_named_by_rules(state, tenant.id, await _existing(state, tenant.id, channel_id), "delete")
    if not await repo.delete_channel(state.db, tenant_id=tenant.id, channel_id=channel_id):
        raise ApiError(404, "no such channel")
    return Response(status_code=204)
