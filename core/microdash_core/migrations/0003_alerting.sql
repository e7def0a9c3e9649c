-- Alerting: rules, per-series states, transition history, silences, notification channels,
-- notifications (one per rule group and channel) and their delivery attempts.
-- depends: 0002_rollups

CREATE TABLE alert_rules (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    name VARCHAR(200) NOT NULL,
    metric VARCHAR(200) NOT NULL,
    matchers TEXT NOT NULL COMMENT 'JSON list of label matchers, e.g. ["host=~n.*"]',
    aggregation ENUM('avg', 'min', 'max', 'sum', 'count', 'last') NOT NULL,
    window_seconds INT UNSIGNED NOT NULL,
    comparison ENUM('>', '>=', '<', '<=', '==', '!=') NOT NULL,
    threshold DOUBLE NOT NULL,
    recovery_threshold DOUBLE NULL COMMENT 'a firing series resolves only once this no longer holds',
    for_seconds INT UNSIGNED NOT NULL DEFAULT 0,
    keep_firing_for_seconds INT UNSIGNED NOT NULL DEFAULT 0,
    nodata_policy ENUM('ok', 'nodata', 'firing') NOT NULL DEFAULT 'nodata',
    nodata_after INT UNSIGNED NOT NULL DEFAULT 1 COMMENT 'evaluations without data before the policy applies',
    severity VARCHAR(32) NOT NULL DEFAULT 'warning',
    labels TEXT NOT NULL COMMENT 'JSON object added to every alert',
    annotations TEXT NOT NULL COMMENT 'JSON object of templates ({{ $value }}, {{ $labels.host }})',
    channels TEXT NOT NULL COMMENT 'JSON list of channel names; empty = every channel of the tenant',
    enabled TINYINT(1) NOT NULL DEFAULT 1,
    managed_by ENUM('api', 'kubernetes') NOT NULL DEFAULT 'api',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_alert_rules_tenant_name (tenant_id, name),
    CONSTRAINT fk_alert_rules_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per rule and series (fingerprint = hash of the series labels). Times in epoch ms.
CREATE TABLE alert_states (
    rule_id INT UNSIGNED NOT NULL,
    fingerprint BINARY(16) NOT NULL,
    tenant_id INT UNSIGNED NOT NULL,
    labels TEXT NOT NULL,
    state ENUM('OK', 'PENDING', 'FIRING', 'NODATA') NOT NULL,
    since BIGINT NOT NULL,
    last_value DOUBLE NULL,
    last_evaluated BIGINT NOT NULL,
    last_active BIGINT NULL COMMENT 'last evaluation at which the condition held (keep_firing_for)',
    missing_evaluations INT UNSIGNED NOT NULL DEFAULT 0,
    fired_at BIGINT NULL,
    resolved_at BIGINT NULL,
    last_notified BIGINT NULL,
    PRIMARY KEY (rule_id, fingerprint),
    KEY ix_alert_states_tenant (tenant_id, state),
    CONSTRAINT fk_alert_states_rule FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE alert_transitions (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    rule_id INT UNSIGNED NOT NULL,
    fingerprint BINARY(16) NOT NULL,
    labels TEXT NOT NULL,
    from_state ENUM('OK', 'PENDING', 'FIRING', 'NODATA') NOT NULL,
    to_state ENUM('OK', 'PENDING', 'FIRING', 'NODATA') NOT NULL,
    value DOUBLE NULL,
    at BIGINT NOT NULL,
    evaluator VARCHAR(200) NOT NULL,
    muted TINYINT(1) NOT NULL DEFAULT 0,
    KEY ix_alert_transitions_tenant (tenant_id, id),
    KEY ix_alert_transitions_rule (rule_id, at),
    CONSTRAINT fk_alert_transitions_rule FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE silences (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    rule_id INT UNSIGNED NULL COMMENT 'NULL = any rule whose alert labels match',
    matchers TEXT NOT NULL COMMENT 'JSON list of label matchers on the alert labels',
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_by VARCHAR(254) NOT NULL,
    comment VARCHAR(1000) NOT NULL DEFAULT '',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY ix_silences_tenant (tenant_id, ends_at),
    CONSTRAINT fk_silences_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE notification_channels (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    name VARCHAR(100) NOT NULL,
    kind ENUM('webhook', 'email', 'slack') NOT NULL,
    config TEXT NOT NULL COMMENT 'JSON: url / smtp host, port, tls, recipients ...',
    secret VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'HMAC key (webhook) or SMTP password; never returned by the API',
    enabled TINYINT(1) NOT NULL DEFAULT 1,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_notification_channels_tenant_name (tenant_id, name),
    CONSTRAINT fk_notification_channels_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One notification per rule group (the transitions of one evaluation) and channel; the payload
-- is built once so every retry sends the same body.
CREATE TABLE notifications (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    channel_id INT UNSIGNED NOT NULL,
    rule_id INT UNSIGNED NOT NULL,
    transition_ids TEXT NOT NULL COMMENT 'JSON list',
    payload MEDIUMTEXT NOT NULL COMMENT 'JSON',
    status ENUM('pending', 'sent', 'failed') NOT NULL DEFAULT 'pending',
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    KEY ix_notifications_tenant (tenant_id, id),
    CONSTRAINT fk_notifications_channel FOREIGN KEY (channel_id) REFERENCES notification_channels (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every delivery attempt, successful or not.
CREATE TABLE deliveries (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    tenant_id INT UNSIGNED NOT NULL,
    notification_id BIGINT UNSIGNED NOT NULL,
    channel_id INT UNSIGNED NOT NULL,
    attempt INT UNSIGNED NOT NULL,
    status ENUM('sent', 'error') NOT NULL,
    http_status SMALLINT UNSIGNED NULL,
    latency_ms INT UNSIGNED NOT NULL,
    error VARCHAR(1000) NULL,
    next_retry_at BIGINT NULL,
    permanently_failed TINYINT(1) NOT NULL DEFAULT 0,
    at BIGINT NOT NULL,
    KEY ix_deliveries_tenant (tenant_id, id),
    KEY ix_deliveries_notification (notification_id),
    CONSTRAINT fk_deliveries_notification FOREIGN KEY (notification_id) REFERENCES notifications (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
