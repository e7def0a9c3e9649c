-- Sealed samples: one row holds one series' samples of one 2 h window (epoch-aligned), encoded by
-- microdash_core.chunks (format and sizes: docs/storage.md). The head is the `samples` table: a
-- sealer moves each window that is over from the head into a chunk, in one transaction.
-- A window with more than SEAL_MAX_SAMPLES samples is written as parts 0..k.
-- Range partitions by day on window_start (a window never straddles a day) make retention a
-- partition drop, as for `samples`. Page compression turns the unused space of InnoDB's extents
-- into holes (it needs a file system that punches holes: ext4, XFS).
-- depends: 0009_alert_rule_expr

CREATE TABLE sample_chunks (
    tenant_id INT UNSIGNED NOT NULL,
    series_id BIGINT UNSIGNED NOT NULL,
    window_start BIGINT NOT NULL COMMENT 'chunks.window_of(ts), epoch ms',
    part SMALLINT UNSIGNED NOT NULL COMMENT '0; 1.. when the window holds more than SEAL_MAX_SAMPLES',
    sample_count INT UNSIGNED NOT NULL,
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    data MEDIUMBLOB NOT NULL COMMENT 'chunks.encode(...), format version in its header',
    PRIMARY KEY (tenant_id, series_id, window_start, part)
) ENGINE=InnoDB PAGE_COMPRESSED=1
PARTITION BY RANGE (window_start) (
    PARTITION p_future VALUES LESS THAN MAXVALUE
);
