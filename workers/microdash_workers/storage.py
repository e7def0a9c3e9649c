"""Stores a batch in MariaDB: resolves series ids (cached) and appends the batch to the head's log
(one compressed row per batch; docs/storage.md, "The head")."""

import logging

import numpy as np
import pymysql

from microdash_core import db
from microdash_core.batches import QueuedSample
from microdash_core.samples import Sample
from microdash_core.series import canonical_labels, series_hash
from microdash_core.settings import Settings
from microdash_core.store import head_log

log = logging.getLogger(__name__)
INSERT_CHUNK_ROWS = 5_000
DEADLOCK_RETRIES = 5
ER_LOCK_DEADLOCK = 1213


class SeriesCache:
    """(tenant id, metric, canonical labels) -> series id, bounded: emptied when full, which costs
    one lookup query per series afterwards and keeps every hit a plain dict lookup."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.ids: dict[tuple[int, str, str], int] = {}

    def put(self, key: tuple[int, str, str], series_id: int) -> None:
        if len(self.ids) >= self.capacity:
            self.ids.clear()
        self.ids[key] = series_id


class SampleStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.cache = SeriesCache(settings.series_cache_size)
        self._connection: pymysql.connections.Connection | None = None

    def connection(self) -> pymysql.connections.Connection:
        if self._connection is None or not self._connection.open:
            self._connection = db.connect(self.settings)
        return self._connection

    def close(self) -> None:
        if self._connection is not None and self._connection.open:
            try:
                self._connection.close()
            except (pymysql.err.MySQLError, OSError):
                pass  # going away anyway
        self._connection = None

    def store(self, *, tenant_id: int, samples: list[Sample] | list[QueuedSample]) -> int:
        """Store the samples of one tenant; re-storing the same samples changes no value. Their
        labels are dicts or, as queued, canonical JSON text."""
        try:
            series_ids = self._with_deadlock_retry(lambda: self._resolve_series(tenant_id, samples))
            if samples:
                self._with_deadlock_retry(lambda: self._append_log(tenant_id, series_ids, samples))
        except (pymysql.err.DataError, pymysql.err.IntegrityError):
            self._roll_back()  # the data was refused, the connection is fine: end the open transaction
            raise
        except BaseException:
            # Lost, or interrupted mid-reply (a job timeout): such a connection cannot be trusted
            # again; the job is retried on a fresh one.
            self.close()
            raise
        return len(samples)

    def _roll_back(self) -> None:
        try:
            self.connection().rollback()
        except pymysql.err.MySQLError:
            self.close()

    def _with_deadlock_retry(self, operation):
        for attempt in range(DEADLOCK_RETRIES):
            try:
                return operation()
            except pymysql.err.OperationalError as exc:
                self.connection().rollback()
                if exc.args[0] != ER_LOCK_DEADLOCK or attempt == DEADLOCK_RETRIES - 1:
                    raise
                log.warning("deadlock while storing, retrying", extra={"attempt": attempt + 1})

    def _resolve_series(self, tenant_id: int, samples: list[Sample] | list[QueuedSample]) -> list[int]:
        """Series id of every sample, in order. Misses are resolved into a batch-local map, so a
        cache smaller than the batch's number of new series cannot lose any."""
        # Queued samples carry the canonical label text already (batches.QueuedSample).
        keys = [(tenant_id, metric, labels if type(labels) is str else canonical_labels(labels))
                for metric, labels, _ts, _value in samples]
        series_ids: list[int | None] = list(map(self.cache.ids.get, keys))
        if None in series_ids:
            missing: dict[tuple[int, str, str], list[int]] = {}
            for position, series_id in enumerate(series_ids):
                if series_id is None:
                    missing.setdefault(keys[position], []).append(position)
            for key, series_id in self._create_series(tenant_id, list(missing)).items():
                for position in missing[key]:
                    series_ids[position] = series_id
        return series_ids  # type: ignore[return-value]

    def _create_series(self, tenant_id: int, keys: list[tuple[int, str, str]]) -> dict[tuple[int, str, str], int]:
        by_hash = {series_hash(metric, labels_json): (tenant_id, metric, labels_json)
                   for _tenant, metric, labels_json in keys}
        connection = self.connection()
        found: dict[tuple[int, str, str], int] = {}
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO series (tenant_id, series_hash, metric, labels) VALUES (%s, %s, %s, %s)"
                " ON DUPLICATE KEY UPDATE id = id",
                [(tenant_id, digest, metric, labels_json) for digest, (_t, metric, labels_json) in by_hash.items()],
            )
            connection.commit()
            digests = list(by_hash)
            for start in range(0, len(digests), INSERT_CHUNK_ROWS):
                chunk = digests[start:start + INSERT_CHUNK_ROWS]
                placeholders = ",".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT series_hash, id FROM series WHERE tenant_id = %s AND series_hash IN ({placeholders})",
                    (tenant_id, *chunk),
                )
                for digest, series_id in cursor.fetchall():
                    key = by_hash[bytes(digest)]
                    found[key] = series_id
                    self.cache.put(key, series_id)
        return found

    def _append_log(self, tenant_id: int, series_ids: list[int], samples: list[Sample]) -> None:
        """The batch as log rows, one per series bucket (a row per MAX_BATCH_SAMPLES of a bucket),
        in one transaction: durable and readable at COMMIT. A re-delivered batch is appended again; reads and compaction let the
        later row win at an equal (series, ts), so it changes no value (docs/storage.md)."""
        ids = np.array(series_ids, dtype=np.int64)
        timestamps = np.array([sample[2] for sample in samples], dtype=np.int64)
        values = np.array([sample[3] for sample in samples], dtype=np.float64)
        connection = self.connection()
        with connection.cursor() as cursor:
            head_log.append(cursor, tenant_id, ids, timestamps, values)
        connection.commit()
