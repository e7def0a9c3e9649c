-- Rollups (1-minute and 5-minute aggregates per series) and per-tenant retention.
-- depends: 0001_initial

-- One row per (tenant, series, bucket). last_value/last_ts keep `last` right when a bucket is
-- re-rolled after a late sample. Range partitions by day on bucket_ts, like samples, so that
-- retention is a partition drop; `microdash migrate` and the scheduler create them ahead of time.
CREATE TABLE samples_1m (
    tenant_id INT UNSIGNED NOT NULL,
    series_id BIGINT UNSIGNED NOT NULL,
    bucket_ts BIGINT NOT NULL COMMENT 'bucket start, epoch ms',
    sample_count INT UNSIGNED NOT NULL,
    value_sum DOUBLE NOT NULL,
    value_min DOUBLE NOT NULL,
    value_max DOUBLE NOT NULL,
    last_value DOUBLE NOT NULL,
    last_ts BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, series_id, bucket_ts)
) ENGINE=InnoDB
PARTITION BY RANGE (bucket_ts) (
    PARTITION p_future VALUES LESS THAN MAXVALUE
);

CREATE TABLE samples_5m (
    tenant_id INT UNSIGNED NOT NULL,
    series_id BIGINT UNSIGNED NOT NULL,
    bucket_ts BIGINT NOT NULL COMMENT 'bucket start, epoch ms',
    sample_count INT UNSIGNED NOT NULL,
    value_sum DOUBLE NOT NULL,
    value_min DOUBLE NOT NULL,
    value_max DOUBLE NOT NULL,
    last_value DOUBLE NOT NULL,
    last_ts BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, series_id, bucket_ts)
) ENGINE=InnoDB
PARTITION BY RANGE (bucket_ts) (
    PARTITION p_future VALUES LESS THAN MAXVALUE
);

-- Per-tenant retention in days; NULL = the configured default (MICRODASH_RETENTION_*_DAYS).
ALTER TABLE tenants
    ADD COLUMN retention_raw_days SMALLINT UNSIGNED NULL,
    ADD COLUMN retention_1m_days SMALLINT UNSIGNED NULL,
    ADD COLUMN retention_5m_days SMALLINT UNSIGNED NULL;
