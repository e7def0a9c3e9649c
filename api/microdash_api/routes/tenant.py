"""GET /api/v1/tenant: the calling tenant's limits and how much of them it uses.

Read from the database on every call: the credential's TenantContext may carry limits cached for
a few seconds. A database outage answers 503 through the app's outage handler, like other reads.
"""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from microdash_core.tenants import directory

from ..deps import ReaderTenant, StateDep
from ..errors import ApiError
from ..sql import ask, fetch

router = APIRouter(prefix="/api/v1", tags=["tenant"])


class TenantLimits(BaseModel):
    ingest_samples_per_second: int = Field(
        description="HTTP ingest rate limit in effect: the tenant's own, else the configured default")
    max_series: int | None = Field(description="most distinct series the tenant may store; null = unlimited")


class TenantUsage(BaseModel):
    series: int = Field(description="distinct series stored")


class TenantPublic(BaseModel):
    name: str
    display_name: str
    limits: TenantLimits
    usage: TenantUsage


@router.get("/tenant", response_model=TenantPublic)
async def current_tenant(tenant: ReaderTenant, state: StateDep) -> TenantPublic:
    """The tenant of the credential (token or session), with its limits and series count."""
    summary = await ask(state.db, directory.tenant_summary(tenant.id))
    if summary is None:  # deleted since the credential was cached
        raise ApiError(404, "tenant does not exist")
    name, display_name, rate_limit, max_series = summary
    (series,), = await fetch(state.db, "SELECT COUNT(*) FROM series WHERE tenant_id = %s", (tenant.id,))
    return TenantPublic(
        name=name, display_name=display_name,
        limits=TenantLimits(ingest_samples_per_second=rate_limit or state.settings.default_ingest_rate_limit,
                            max_series=max_series),
        usage=TenantUsage(series=series))
