"""/api/v1/alerts/channels: where notifications go. Secrets are write-only: responses only say
whether one is set. A channel aimed at an internal address is refused (see microdash_core.egress)."""

import asyncio
import re
import ssl
from typing import Annotated, Literal
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field, field_validator, model_validator

from microdash_core import egress
from microdash_core.audit import Change
from microdash_core.bounds import has_control_characters

from .. import alerts_repository as repo
from ..audit_trail import AuditDep
from ..auth import TenantContext
from ..deps import ReaderTenant, StateDep, WriterTenant
from ..errors import ApiError
from ..fields import RowId, plain_text
from ..sql import IntegrityError, Transaction, transaction

router = APIRouter(prefix="/api/v1/alerts/channels", tags=["alerts"])
ChannelId = Annotated[RowId, Path()]
REQUIRED_CONFIG = {"webhook": ("url",), "slack": ("url",), "email": ("host", "sender", "recipients")}
MAX_CA_PEM_CHARS = 16 * 1024
MAX_HOST_CHARS = 253  # the longest DNS name
CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(; *[\w.-]+=[\w.-]+)*")
RESOLVE_TIMEOUT_SECONDS = 2.0


class ChannelIn(BaseModel):
    name: plain_text(100, min_length=1)
    kind: Literal["webhook", "email", "slack"]
    config: dict = Field(description="webhook: url, optional template, content_type and ca_pem; slack: url; email: "
                                     "host, port, sender, recipients, username, tls (none|starttls|tls), ca_pem (PEM "
                                     "text of the CA certificates a private receiver's certificate is checked with)")
    secret: str | None = Field(None, max_length=255, description="webhook HMAC key or SMTP password; never returned")
    enabled: bool = True

    @field_validator("config")
    @classmethod
    def _config_is_bounded(cls, config: dict) -> dict:
        _check_config_text(config)
        return config

    @model_validator(mode="after")
    def _config_is_complete(self) -> "ChannelIn":
        missing = [key for key in REQUIRED_CONFIG[self.kind] if not self.config.get(key)]
        if missing:
            raise ValueError(f"{self.kind} channel config needs {', '.join(missing)}")
        if "url" in self.config:
            _check_url(self.config["url"])
        if self.kind == "email":
            _check_email_config(self.config)
        _check_tls_config(self.config)
        content_type = self.config.get("content_type")
        if content_type is not None and not (isinstance(content_type, str) and CONTENT_TYPE.fullmatch(content_type)):
            raise ValueError("content_type must be a media type such as application/json")
        return self


def _check_url(url) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname) and (parts.port is None or parts.port > 0)  # .port raises when out of range
    except ValueError as exc:
        raise ValueError("url is malformed") from exc
    if not has_host:
        raise ValueError("url needs a host (and a port from 1 to 65535)")


def _check_tls_config(config: dict) -> None:
    if "cert_bundle" in config:
        raise ValueError("use ca_pem (CA certificates as PEM text): cert_bundle, a path on the worker, is refused")
    pem = config.get("ca_pem")
    if pem is None:
        return
    if not isinstance(pem, str) or not 0 < len(pem) <= MAX_CA_PEM_CHARS:
        raise ValueError(f"ca_pem must be PEM text of at most {MAX_CA_PEM_CHARS} characters")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError("ca_pem holds no valid PEM certificate") from exc


def _check_email_config(config: dict) -> None:
    host, sender = config["host"], config["sender"]
    if not isinstance(host, str) or len(host) > MAX_HOST_CHARS:
        raise ValueError(f"host must be a host name or address of at most {MAX_HOST_CHARS} characters")
    if not isinstance(sender, str) or "@" not in sender:
        raise ValueError("sender must be an email address")
    if config.get("tls", "starttls") not in ("none", "starttls", "tls"):
        raise ValueError("tls must be none, starttls or tls")
    recipients = config["recipients"]
    if not isinstance(recipients, list) or not all(isinstance(one, str) and "@" in one for one in recipients):
        raise ValueError("recipients must be a list of email addresses")
    port = config.get("port", 25)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError("port must be a number from 1 to 65535")


def _target(kind: str, config: dict) -> tuple[str, int]:
    if kind == "email":
        return config["host"], config.get("port", 25)
    parts = urlsplit(config["url"])
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def _refuse_internal_target(body: ChannelIn, policy: egress.EgressPolicy) -> None:
    """A literal address is checked; a name is resolved and every address checked. A name that
    does not resolve (yet) is accepted: the check that counts is the one at every send."""
    host, port = _target(body.kind, body.config)
    try:
        await asyncio.wait_for(asyncio.to_thread(egress.check_target, host, port, policy),
                               timeout=RESOLVE_TIMEOUT_SECONDS)
    except egress.EgressRefused as exc:
        where = "url" if "url" in body.config else "host"
        raise ApiError(422, f"{where}: {exc}; internal targets are refused unless the operator allows their network"
                            " (MICRODASH_NOTIFY_ALLOWED_CIDRS)",
                       errors=[{"loc": ["body", "config", where], "msg": str(exc), "type": "internal_address"}]) from exc
    except asyncio.TimeoutError:
        pass


MAX_CONFIG_BYTES = 32_768
MAX_RECIPIENTS = 50
MULTILINE_CONFIG = frozenset({"template", "ca_pem"})


def _check_config_text(config: dict) -> None:
    """Bounded in size; no control characters in any value but the body template and ca_pem (a CR/LF in an
    address or a header value would split the mail or HTTP header it ends up in)."""
    try:
        encoded = orjson.dumps(config)
    except TypeError as exc:  # e.g. an integer past 64 bits, which the stored JSON cannot hold
        raise ValueError(f"config cannot be stored as JSON: {exc}") from exc
    if len(encoded) > MAX_CONFIG_BYTES:
        raise ValueError(f"config takes more than {MAX_CONFIG_BYTES} bytes as JSON")
    recipients = config.get("recipients")
    if isinstance(recipients, list) and len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"more than {MAX_RECIPIENTS} recipients")
    for key, value in config.items():
        texts = value if isinstance(value, list) else [value]
        multiline = key in MULTILINE_CONFIG
        if any(isinstance(text, str) and has_control_characters(text, multiline=multiline) for text in texts):
            raise ValueError(f"config.{key} must not contain control characters" + ("" if multiline else
                                                                                     " or line breaks"))


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


async def _existing(state, tenant_id: int, channel_id: int, *, on: Transaction | None = None) -> ChannelOut:
    rows = await repo.list_channels(on or state.db, tenant_id=tenant_id, channel_id=channel_id)
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
    naming = sorted(stored.rule.name for stored in await repo.list_rules(state.db, tenant_id=tenant_id)
                    if channel.name in stored.rule.channels)
    if naming:
        raise ApiError(409, f"cannot {change} channel {channel.name!r}: the rules {', '.join(naming)} name it;"
                            " change them first")


@router.post("", response_model=ChannelOut, status_code=201)
async def create_channel(body: ChannelIn, tenant: WriterTenant, state: StateDep, audit: AuditDep) -> ChannelOut:
    await _refuse_internal_target(body, egress.policy_from(state.settings))
    async with transaction(state.db) as tx:
        try:
            channel_id = await repo.insert_channel(tx, tenant_id=tenant.id, name=body.name, kind=body.kind,
                                                   config=body.config, secret=body.secret or "", enabled=body.enabled)
        except IntegrityError as exc:
            raise ApiError(409, f"a channel named {body.name!r} exists already") from exc
        created = await _existing(state, tenant.id, channel_id, on=tx)
        await audit.record(tx, tenant, Change("channel.create", channel_id, after=created.model_dump()))
    return created


@router.put("/{channel_id}", response_model=ChannelOut)
async def replace_channel(channel_id: ChannelId, body: ChannelIn, tenant: WriterTenant, state: StateDep,
                          audit: AuditDep) -> ChannelOut:
    current = await _existing(state, tenant.id, channel_id)
    await _refuse_internal_target(body, egress.policy_from(state.settings))
    if body.name != current.name:
        await _refuse_if_named_by_rules(state, tenant.id, current, "rename")
    async with transaction(state.db) as tx:
        try:
            await repo.update_channel(tx, tenant_id=tenant.id, channel_id=channel_id, name=body.name,
                                      kind=body.kind, config=body.config, secret=body.secret, enabled=body.enabled)
        except IntegrityError as exc:
            raise ApiError(409, f"a channel named {body.name!r} exists already") from exc
        after = await _existing(state, tenant.id, channel_id, on=tx)
        await audit.record(tx, tenant, Change("channel.update", channel_id, before=current.model_dump(),
                                              after=after.model_dump()))
    return after


@router.delete("/{channel_id}", status_code=204)
async def delete_channel(channel_id: ChannelId, tenant: WriterTenant, state: StateDep, audit: AuditDep) -> Response:
    before = await _existing(state, tenant.id, channel_id)
    await _refuse_if_named_by_rules(state, tenant.id, before, "delete")
    async with transaction(state.db) as tx:
        if not await repo.delete_channel(tx, tenant_id=tenant.id, channel_id=channel_id):
            raise ApiError(404, "no such channel")
        await audit.record(tx, tenant, Change("channel.delete", channel_id, before=before.model_dump()))
    return Response(status_code=204)
