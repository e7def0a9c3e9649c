"""/api/v1/alerts/rules: alert rules CRUD. Rules managed by Kubernetes (the operator) are read-only here."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from microdash_core.alerting import rules
from microdash_core.alerting.rules import Rule, check_rule
from microdash_core.audit import Change
from microdash_core.errors import InvalidInput

from .. import alerts_repository as repo
from ..audit_trail import AuditDep
from ..deps import ReaderTenant, StateDep, WriterTenant
from ..errors import ApiError
from ..fields import FiniteFloat, MatcherList, RowId
from ..sql import IntegrityError, Transaction, transaction

router = APIRouter(prefix="/api/v1/alerts/rules", tags=["alerts"])
RuleId = Annotated[RowId, Path()]


Aggregation = Literal["avg", "min", "max", "sum", "count", "last"]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
NodataPolicy = Literal["ok", "nodata", "firing"]
LabelName = Annotated[str, Field(max_length=rules.MAX_NAME_LENGTH)]


class RuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=rules.MAX_NAME_LENGTH)
    metric: str = Field("", max_length=rules.MAX_NAME_LENGTH, description="the metric watched; empty with expr")
    expr: str | None = Field(None, max_length=rules.MAX_EXPR_LENGTH,
                             description="PromQL instead of metric, matchers, aggregation and window: every series of "
                                         "its instant result is one alert, compared with threshold")
    matchers: MatcherList = Field(default=[], description='label matchers, e.g. ["host=~n.*"]; regexes are fully '
                                                          'anchored RE2 (no backreferences or lookaround)')
    aggregation: Aggregation = "avg"
    window_seconds: int = Field(60, ge=1, le=rules.MAX_WINDOW_SECONDS)
    comparison: Comparison
    threshold: FiniteFloat
    recovery_threshold: FiniteFloat | None = Field(None, description="hysteresis: a firing alert resolves past this")
    for_seconds: int = Field(0, ge=0, le=rules.MAX_HOLD_SECONDS)
    keep_firing_for_seconds: int = Field(0, ge=0, le=rules.MAX_HOLD_SECONDS)
    nodata_policy: NodataPolicy = "nodata"
    nodata_after: int = Field(1, ge=1, le=rules.MAX_NODATA_AFTER,
                              description="evaluations without data before the no-data policy applies")
    severity: str = Field("warning", min_length=1, max_length=rules.MAX_SEVERITY_LENGTH)
    labels: dict[LabelName, Annotated[str, Field(max_length=rules.MAX_LABEL_VALUE_LENGTH)]] = Field(
        default={}, max_length=rules.MAX_LABELS)
    annotations: dict[LabelName, Annotated[str, Field(max_length=rules.MAX_ANNOTATION_LENGTH)]] = Field(
        default={}, max_length=rules.MAX_ANNOTATIONS, description="templates: {{ $value }}, {{ $labels.host }}")
    channels: list[Annotated[str, Field(max_length=rules.MAX_CHANNEL_NAME_LENGTH)]] = Field(
        default=[], max_length=rules.MAX_CHANNELS, description="channel names; empty = every channel of the tenant")
    enabled: bool = True


class RuleOut(BaseModel):
    """Plain types: a rule stored before a bound was added still reads back."""
    id: int
    managed_by: Literal["api", "kubernetes"]
    name: str
    metric: str
    expr: str | None
    matchers: list[str]
    aggregation: Aggregation
    window_seconds: int
    comparison: Comparison
    threshold: float
    recovery_threshold: float | None
    for_seconds: int
    keep_firing_for_seconds: int
    nodata_policy: NodataPolicy
    nodata_after: int
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    channels: list[str]
    enabled: bool
    eval_error: str | None = Field(description="why the expression's last evaluation failed (its alerts then keep "
                                               "their states); null when it succeeded, and for a metric rule")


# The audit log records what a writer changed, not what the evaluator observed.
_AUDITED = {"exclude": {"eval_error"}}


def _to_rule(body: RuleIn, tenant_id: int) -> Rule:
    fields = body.model_dump(exclude={"enabled"})
    rule = Rule(id=0, tenant_id=tenant_id, **{**fields, "matchers": tuple(body.matchers),
                                              "channels": tuple(body.channels), "expr": body.expr or None})
    try:
        check_rule(rule)
    except InvalidInput as exc:
        errors = [{"field": exc.field, "error": str(exc)}] if exc.field else None
        raise ApiError(422, str(exc), errors=errors) from exc
    return rule


def _out(found: repo.StoredRule) -> RuleOut:
    rule, enabled, managed_by, eval_error = found
    return RuleOut(id=rule.id, managed_by=managed_by, enabled=enabled, eval_error=eval_error, name=rule.name,
                   metric=rule.metric, expr=rule.expr, matchers=list(rule.matchers), aggregation=rule.aggregation,
                   window_seconds=rule.window_seconds,
                   comparison=rule.comparison, threshold=rule.threshold, recovery_threshold=rule.recovery_threshold,
                   for_seconds=rule.for_seconds, keep_firing_for_seconds=rule.keep_firing_for_seconds,
                   nodata_policy=rule.nodata_policy, nodata_after=rule.nodata_after, severity=rule.severity,
                   labels=rule.labels, annotations=rule.annotations, channels=list(rule.channels))


async def _existing(state, tenant_id: int, rule_id: int, *, for_change: bool = False,
                    on: Transaction | None = None) -> repo.StoredRule:
    found = await repo.get_rule(on or state.db, tenant_id=tenant_id, rule_id=rule_id)
    if found is None:
        raise ApiError(404, "no such rule")
    if for_change and found.managed_by != "api":
        raise ApiError(409, "this rule is managed by Kubernetes; change its AlertRule resource instead")
    return found


@router.get("", response_model=list[RuleOut])
async def list_rules(tenant: ReaderTenant, state: StateDep) -> list[RuleOut]:
    return [_out(found) for found in await repo.list_rules(state.db, tenant_id=tenant.id)]


@router.get("/{rule_id}", response_model=RuleOut)
async def get_rule(rule_id: RuleId, tenant: ReaderTenant, state: StateDep) -> RuleOut:
    return _out(await _existing(state, tenant.id, rule_id))


async def _check_channels(state, tenant_id: int, names: list[str]) -> None:
    """A rule may name only channels that exist: a misspelt name would silently notify nobody."""
    existing = {row[1] for row in await repo.list_channels(state.db, tenant_id=tenant_id)}
    missing = [name for name in names if name not in existing]
    if missing:
        raise ApiError(422, f"no such channel: {', '.join(missing)}",
                       errors=[{"field": "channels", "error": f"no channel named {name!r}"} for name in missing])


@router.post("", response_model=RuleOut, status_code=201)
async def create_rule(body: RuleIn, tenant: WriterTenant, state: StateDep, audit: AuditDep) -> RuleOut:
    rule = _to_rule(body, tenant.id)
    await _check_channels(state, tenant.id, body.channels)
    async with transaction(state.db) as tx:
        try:
            rule_id = await repo.insert_rule(tx, tenant_id=tenant.id, rule=rule, enabled=body.enabled)
        except IntegrityError as exc:
            raise ApiError(409, f"a rule named {body.name!r} exists already") from exc
        created = _out(await _existing(state, tenant.id, rule_id, on=tx))
        await audit.record(tx, tenant, Change("rule.create", rule_id, after=created.model_dump(**_AUDITED)))
    return created


@router.put("/{rule_id}", response_model=RuleOut)
async def replace_rule(rule_id: RuleId, body: RuleIn, tenant: WriterTenant, state: StateDep,
                       audit: AuditDep) -> RuleOut:
    before = _out(await _existing(state, tenant.id, rule_id, for_change=True))
    rule = _to_rule(body, tenant.id)
    await _check_channels(state, tenant.id, body.channels)
    async with transaction(state.db) as tx:
        try:
            await repo.update_rule(tx, tenant_id=tenant.id, rule_id=rule_id, rule=rule, enabled=body.enabled)
        except IntegrityError as exc:
            raise ApiError(409, f"a rule named {body.name!r} exists already") from exc
        after = _out(await _existing(state, tenant.id, rule_id, on=tx))
        await audit.record(tx, tenant, Change("rule.update", rule_id, before=before.model_dump(**_AUDITED),
                                              after=after.model_dump(**_AUDITED)))
    return after


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: RuleId, tenant: WriterTenant, state: StateDep, audit: AuditDep) -> Response:
    before = _out(await _existing(state, tenant.id, rule_id, for_change=True))
    async with transaction(state.db) as tx:
        await repo.delete_rule(tx, tenant_id=tenant.id, rule_id=rule_id)
        await audit.record(tx, tenant, Change("rule.delete", rule_id, before=before.model_dump(**_AUDITED)))
    return Response(status_code=204)
