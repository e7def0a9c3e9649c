"""Recording admin actions from the api into the audit log (core audit.py holds the format).

The credential dependencies (deps.py) name the caller on `request.state.actor` as they resolve it:
`user:<email>` for a dashboard session, `token:<public id>` for an API token.
"""

from typing import Annotated

from fastapi import Depends, Request

from microdash_core import audit

from .auth import TenantContext
from .client_address import client_address
from .sql import Transaction, execute


class AuditTrail:
    def __init__(self, request: Request):
        self.request = request

    async def record(self, on: Transaction, tenant: TenantContext, change: audit.Change) -> None:
        """In the change's own transaction (sql.transaction), after the change: both are stored or
        neither. The entry names the tenant by id, as the credential did."""
        await execute(on, audit.INSERT_SQL, audit.insert_params(tenant_id=tenant.id, tenant_name=tenant.name,
                                                                actor=self.actor(), change=change))

    def actor(self) -> audit.Actor:
        """The caller, for changes the core's services audit in their own transaction."""
        state = self.request.app.state.microdash
        return audit.Actor("api", getattr(self.request.state, "actor", "unknown"),
                           client_address(self.request, state.settings.trusted_proxy_hops))


def audit_trail(request: Request) -> AuditTrail:
    return AuditTrail(request)


AuditDep = Annotated[AuditTrail, Depends(audit_trail)]
