-- When the broker confirmed a revoked token's MQTT client gone: a tenant's resync then deletes the
-- clients of newly revoked tokens only, not those of every rotation ever made.
-- depends: 0004_managed_tenants

ALTER TABLE api_tokens
    ADD COLUMN broker_cleared_at DATETIME(3) NULL COMMENT 'revoked token whose broker client was deleted';
