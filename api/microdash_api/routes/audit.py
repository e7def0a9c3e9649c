"""GET /api/v1/audit: the tenant's audit log, newest first, for its admins."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from microdash_core import audit

from ..deps import StateDep, admin_session_to
from ..sessions_store import Session
from ..sql import fetch

router = APIRouter(prefix="/api/v1", tags=["audit"])
Text = Annotated[str | None, Query(min_length=1, max_length=255)]
EpochMs = Annotated[int | None, Query(ge=0, le=253402300799999, description="epoch ms")]


class AuditEntryOut(BaseModel):
    id: int
    at: int
    source: audit.Source
    actor: str
    address: str | None
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any


# The log names people and addresses: only an admin signed in to the tenant may read it.
AuditReader = Annotated[Session, Depends(admin_session_to("read the audit log"))]


@router.get("/audit", response_model=list[AuditEntryOut])
async def audit_log(session: AuditReader, state: StateDep, action: Text = None,
                    object_type: Text = None, object_id: Text = None, actor: Text = None,
                    since: EpochMs = None, until: EpochMs = None,
                    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                                           description="page: entries older than this id")] = None,
                    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100) -> list[AuditEntryOut]:
    filters = audit.Filters(action=action, object_type=object_type, object_id=object_id, actor=actor,
                            since_ms=since, until_ms=until, before_id=before_id, limit=limit)
    rows = await fetch(state.db, *audit.select(session.tenant.id, filters))
    return [AuditEntryOut(id=found.id, at=found.at_ms, source=found.source, actor=found.actor,
                          address=found.address, action=found.action, object_type=found.object_type,
                          object_id=found.object_id, before=found.before, after=found.after)
            for found in map(audit.entry, rows)]
