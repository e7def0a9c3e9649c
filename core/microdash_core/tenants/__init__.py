"""The tenant family: the only code that queries the tenant tables (`tenants`, `api_tokens`,
`users`, `memberships`; tests/test_tenant_queries.py checks it).

- directory: tenants by name or id, the list, owners, names for alerts and the bridge.
- limits: a tenant's ingest limits, retention overrides and spec-managed settings.
- api_tokens: issuing, listing, revoking tokens and finding the active one behind a token.
- memberships: dashboard users and their roles in tenants.
- deletion: a tenant and everything stored for it.

Functions taking a pymysql cursor run the statement themselves. The api reads through asyncmy on
its event loop, so what it needs is also offered as a `Query` (statement plus how its rows become
the answer), which `Query.run` executes on a cursor and the api's `sql.ask` on its pool: one
statement and one round trip either way.
"""
