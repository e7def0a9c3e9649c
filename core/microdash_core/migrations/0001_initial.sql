-- Tenancy, credentials, series and time-partitioned samples.

CREATE TABLE tenants (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(63) NOT NULL,
    display_name VARCHAR(255) NOT NULL,
    ingest_rate_limit INT UNSIGNED NULL COMMENT 'samples/s; NULL = the configured default',
    max_series INT UNSIGNED NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_tenants_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE api_tokens (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    public_id CHAR(12) NOT NULL COMMENT 'non-secret part of the token, used to find the row',
    token_hash BINARY(32) NOT NULL COMMENT 'SHA-256 of the whole token; the token itself is never stored',
    name VARCHAR(100) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    revoked_at DATETIME(3) NULL,
    UNIQUE KEY uq_api_tokens_public_id (public_id),
    KEY ix_api_tokens_tenant (tenant_id),
    CONSTRAINT fk_api_tokens_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL COMMENT 'argon2id',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE memberships (
    user_id INT UNSIGNED NOT NULL,
    tenant_id INT UNSIGNED NOT NULL,
    role ENUM('admin', 'viewer') NOT NULL,
    PRIMARY KEY (user_id, tenant_id),
    KEY ix_memberships_tenant (tenant_id),
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE series (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    series_hash BINARY(16) NOT NULL COMMENT 'hash of metric + canonical labels',
    metric VARCHAR(200) NOT NULL,
    labels TEXT NOT NULL COMMENT 'canonical JSON object, keys sorted',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_series_tenant_hash (tenant_id, series_hash),
    KEY ix_series_tenant_metric (tenant_id, metric),
    CONSTRAINT fk_series_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Samples are keyed (tenant, series, ts): a re-delivered batch overwrites itself instead of
-- duplicating. Range partitions by day on ts (epoch ms) make retention a partition drop;
-- `microdash migrate` and the scheduler split p_future into daily partitions ahead of time.
CREATE TABLE samples (
    tenant_id INT UNSIGNED NOT NULL,
    series_id BIGINT UNSIGNED NOT NULL,
    ts BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (tenant_id, series_id, ts)
) ENGINE=InnoDB
PARTITION BY RANGE (ts) (
    PARTITION p_future VALUES LESS THAN MAXVALUE
);
