"""Stores a batch in MariaDB: resolves series ids (cached) and appends the batch to the head's log
(one compressed row per batch; docs/storage.md, "The head")."""

import logging
from operator import itemgetter

import numpy as np
import pymysql

from microdash_core import db
from microdash_core.batches import QueuedSample
from microdash_core.samples import Sample
from microdash_core.series import canonical_labels, series_hash
from microdash_core.settings import Settings
from microdash_core.store import head_log

from .column_batch import ColumnBatch

log = logging.getLogger(__name__)
INSERT_CHUNK_ROWS = 5_000
DEADLOCK_RETRIES = 5
_METRIC, _LABELS, _TS, _VALUE = (itemgetter(field) for field in range(4))


class SeriesCache:
    """(tenant id, metric, canonical labels) -> series id, bounded: emptied when full, which costs
    one lookup query per series afterwards and keeps every hit a plain dict lookup. Held per
    (tenant, metric) as {labels: id}, so the samples of one metric find their ids by one C loop
    over their label texts, with no key made per sample."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.size = 0
        self.by_metric: dict[tuple[int, str], dict[str, int]] = {}

    def put(self, key: tuple[int, str, str], series_id: int) -> None:
        if self.size >= self.capacity:
            self.by_metric.clear()
            self.size = 0
        tenant_id, metric, labels = key
        ids = self.by_metric.setdefault((tenant_id, metric), {})
        self.size += labels not in ids
        ids[labels] = series_id

    def ids_of(self, tenant_id: int, metrics: list[str], texts: list[str]) -> list[int | None]:
        """The cached id of each (metrics[i], texts[i]) of the tenant's, None where not cached."""
        distinct = set(metrics)
        if len(distinct) == 1:
            return list(map(self.by_metric.get((tenant_id, distinct.pop()), {}).get, texts))
        no_ids: dict[str, int] = {}
        return [self.by_metric.get((tenant_id, metric), no_ids).get(text) for metric, text in zip(metrics, texts)]


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

        def store_rows() -> None:
            series_ids = self._with_deadlock_retry(lambda: self._resolve_series(tenant_id, samples))
            if samples:
                self._with_deadlock_retry(lambda: self._append_log(
                    tenant_id, np.array(series_ids, dtype=np.int64),
                    np.fromiter(map(_TS, samples), dtype=np.int64, count=len(samples)),
                    np.fromiter(map(_VALUE, samples), dtype=np.float64, count=len(samples))))

        self._storing(store_rows)
        return len(samples)

    def store_columns(self, batch: ColumnBatch) -> int:
        """Store a batch in columns (its samples as store() would store them, in one transaction),
        with no tuple per sample."""

        def store_columns() -> None:
            series_ids = self._with_deadlock_retry(lambda: self._resolve_column_series(batch))
            self._with_deadlock_retry(lambda: self._append_log(batch.tenant_id, series_ids, batch.timestamps,
                                                               batch.values))

        self._storing(store_columns)
        return len(batch)

    def _storing(self, storing) -> None:
        try:
            storing()
        except (pymysql.err.DataError, pymysql.err.IntegrityError):
            self._roll_back()  # the data was refused, the connection is fine: end the open transaction
            raise
        except BaseException:
            # Lost, or interrupted mid-reply (a job timeout): such a connection cannot be trusted
            # again; the job is retried on a fresh one.
            self.close()
            raise

    def _roll_back(self) -> None:
        try:
            self.connection().rollback()
        except pymysql.err.MySQLError:
            self.close()

    def _with_deadlock_retry(self, operation):
        """operation() (which commits its own work: a series created stays created) run again at once
        after a deadlock; after any OperationalError the connection is rolled back first. A lock
        wait timeout is raised (the job is retried), other errors are left to _storing."""
        return db.retried(operation, roll_back=lambda: self.connection().rollback(), what="storing",
                          errors=frozenset({db.DEADLOCK}), attempts=DEADLOCK_RETRIES, pause_seconds=0)

    def _resolve_series(self, tenant_id: int, samples: list[Sample] | list[QueuedSample]) -> list[int]:
        """Series id of every sample, in order."""
        texts = list(map(_LABELS, samples))
        if set(map(type, texts)) != {str}:  # queued samples carry the canonical label text already
            texts = [labels if type(labels) is str else canonical_labels(labels) for labels in texts]
        return self._series_ids(tenant_id, list(map(_METRIC, samples)), texts)

    def _resolve_column_series(self, batch: ColumnBatch) -> np.ndarray:
        """Series id of every sample of a batch in columns: resolved once per (name, label text) pair."""
        if len(batch.names) == 1:  # ColumnBatch.decode: every text is used, so each is one series
            metrics, texts, pair_of_sample = batch.names * len(batch.texts), batch.texts, batch.label_refs
        else:
            pairs, pair_of_sample = np.unique(batch.name_refs * len(batch.texts) + batch.label_refs,
                                              return_inverse=True)
            name_of_pair, text_of_pair = np.divmod(pairs, len(batch.texts))
            metrics = list(map(batch.names.__getitem__, name_of_pair.tolist()))
            texts = list(map(batch.texts.__getitem__, text_of_pair.tolist()))
        return np.array(self._series_ids(batch.tenant_id, metrics, texts), dtype=np.int64)[pair_of_sample]

    def _series_ids(self, tenant_id: int, metrics: list[str], texts: list[str]) -> list[int]:
        """The id of each series (metrics[i], texts[i]), created when new. Misses are resolved into a
        batch-local map, so a cache smaller than the batch's number of new series cannot lose any."""
        series_ids = self.cache.ids_of(tenant_id, metrics, texts)
        if None in series_ids:
            missing: dict[tuple[int, str, str], list[int]] = {}
            for position, series_id in enumerate(series_ids):
                if series_id is None:
                    missing.setdefault((tenant_id, metrics[position], texts[position]), []).append(position)
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

    def _append_log(self, tenant_id: int, series_ids: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> None:
        """The batch as log rows, one per series bucket (a row per MAX_BATCH_SAMPLES of a bucket),
        in one transaction: durable and readable at COMMIT. A re-delivered batch is appended again; reads and compaction let the
        later row win at an equal (series, ts), so it changes no value (docs/storage.md)."""
        connection = self.connection()
        with connection.cursor() as cursor:
            head_log.append(cursor, tenant_id, series_ids, timestamps, values)
        connection.commit()
