-- The head for new writes: an append log of compressed batches (docs/storage.md, "The head").
-- A worker writes ONE row per (stored batch, series bucket) (microdash_core.chunks.batch: the
-- series ids, timestamps and values of the batch's samples whose series_id % 64 is the bucket, in
-- input order, compressed) instead of a row per sample. A compactor
-- folds the oldest rows of a tenant into level-0 chunk parts and deletes them in one
-- transaction; the sealer folds level-0 parts into a window's canonical parts 0..k.
-- Reads find a tenant's rows by (tenant_id, the buckets of the series asked for, time overlap); compaction takes them by (tenant_id, id)
-- and leaves a series' samples in the log until it has enough of them or they are old enough
-- (written_at, bounded age; compacted samples of a row's waiting series are re-written as a row).
-- The log stays small (bounded by that age and a size), so it is not partitioned.
-- depends: 0010_sample_chunks

CREATE TABLE sample_log (
    tenant_id INT UNSIGNED NOT NULL,
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT COMMENT 'write order: a later row wins at an equal (series, ts)',
    bucket SMALLINT UNSIGNED NOT NULL COMMENT 'series_id % 64 of every sample in the row (store.head_log.BUCKETS)',
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    sample_count INT UNSIGNED NOT NULL,
    series_max INT UNSIGNED NOT NULL COMMENT 'most samples one series has in the row: a read of n series loads at most n times this of it',
    written_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) COMMENT 'compaction leaves a row until its series have enough samples or it is this old',
    data MEDIUMBLOB NOT NULL COMMENT 'chunks.batch.encode(...), format version in its header',
    PRIMARY KEY (tenant_id, id),
    KEY ix_sample_log_id (id),
    KEY ix_sample_log_bucket (tenant_id, bucket, last_ts, first_ts)
) ENGINE=InnoDB;

-- Level-0 parts (written by compaction) number from chunks.LEVEL0_PART_BASE (2^32) upwards:
-- their number grows with the log ids they came from, so a later part wins. ix_sample_chunks_part
-- lets the sealer find the windows that hold level-0 parts without scanning every chunk.
ALTER TABLE sample_chunks
    MODIFY part BIGINT UNSIGNED NOT NULL COMMENT '0..k canonical; >= 2^32 a level-0 part from the log',
    ADD KEY ix_sample_chunks_part (part, window_start);
