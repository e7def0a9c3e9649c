-- The audit log: every admin action (API, dashboard, CLI, operator) with who, what, which object,
-- before and after, when and from which address; secrets are redacted before they get here.
-- No foreign key to tenants: the log outlives its tenant (the deletion is itself an entry), and a
-- tenant re-created under the same name has another id, so it never sees the old entries.
-- depends: 0007_no_tenant_file_paths

CREATE TABLE audit_log (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NULL COMMENT 'the tenant acted on; NULL when the action concerns no one tenant',
    tenant_name VARCHAR(63) NULL COMMENT 'kept readable after the tenant is deleted',
    at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    source ENUM('api', 'cli', 'operator') NOT NULL,
    actor VARCHAR(320) NOT NULL COMMENT 'user:<email>, token:<public id>, cli:<os user>, operator:<resource>',
    address VARCHAR(255) NULL COMMENT 'client address (api), host name (cli, operator)',
    action VARCHAR(64) NOT NULL COMMENT '<object type>.<verb>, e.g. rule.update',
    object_type VARCHAR(32) NOT NULL,
    object_id VARCHAR(255) NULL,
    before_state LONGTEXT NULL COMMENT 'JSON, secrets redacted',
    after_state LONGTEXT NULL COMMENT 'JSON, secrets redacted',
    KEY ix_audit_log_tenant (tenant_id, id),
    KEY ix_audit_log_tenant_action (tenant_id, action, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
