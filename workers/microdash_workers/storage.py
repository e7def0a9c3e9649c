"""Stores a batch in MariaDB: resolves series ids (cached) and bulk-inserts samples idempotently."""

import logging
from collections import OrderedDict

import pymysql

from microdash_core import db
from microdash_core.samples import Sample
from microdash_core.series import canonical_labels, series_hash
from microdash_core.settings import Settings

log = logging.getLogger(__name__)
INSERT_CHUNK_ROWS = 5_000
DEADLOCK_RETRIES = 5
ER_LOCK_DEADLOCK = 1213


class SeriesCache:
    """Bounded LRU of (tenant id, series hash) -> series id."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._ids: OrderedDict[tuple[int, bytes], int] = OrderedDict()

    def get(self, key: tuple[int, bytes]) -> int | None:
        series_id = self._ids.get(key)
        if series_id is not None:
            self._ids.move_to_end(key)
        return series_id

    def put(self, key: tuple[int, bytes], series_id: int) -> None:
        self._ids[key] = series_id
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


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
            self._connection.close()
        self._connection = None

    def store(self, *, tenant_id: int, samples: list[Sample]) -> int:
        """Insert the samples of one tenant; re-storing the same samples changes nothing."""
        try:
            series_ids = self._with_deadlock_retry(lambda: self._resolve_series(tenant_id, samples))
            self._with_deadlock_retry(lambda: self._insert_samples(tenant_id, series_ids, samples))
        except pymysql.err.OperationalError:
            self.close()  # the connection may be unusable; the job is retried on a fresh one
            raise
        return len(samples)

    def _with_deadlock_retry(self, operation):
        for attempt in range(DEADLOCK_RETRIES):
            try:
                return operation()
            except pymysql.err.OperationalError as exc:
                self.connection().rollback()
                if exc.args[0] != ER_LOCK_DEADLOCK or attempt == DEADLOCK_RETRIES - 1:
                    raise
                log.warning("deadlock while storing, retrying", extra={"attempt": attempt + 1})

    def _resolve_series(self, tenant_id: int, samples: list[Sample]) -> list[int]:
        """Series id of every sample, in order. Ids are taken from a batch-local map, so a cache
        smaller than the batch's number of new series cannot lose any."""
        cache = self.cache
        ids: dict[tuple[str, str], int] = {}
        keys: list[tuple[str, str]] = []
        missing: dict[bytes, tuple[str, str]] = {}
        for metric, labels, _ts, _value in samples:
            key = (metric, canonical_labels(labels))
            keys.append(key)
            if key in ids:
                continue
            digest = series_hash(*key)
            series_id = cache.get((tenant_id, digest))
            if series_id is None:
                missing[digest] = key
            else:
                ids[key] = series_id
        if missing:
            for digest, series_id in self._create_series(tenant_id, missing).items():
                ids[missing[digest]] = series_id
        return [ids[key] for key in keys]

    def _create_series(self, tenant_id: int, missing: dict[bytes, tuple[str, str]]) -> dict[bytes, int]:
        connection = self.connection()
        rows = [(tenant_id, digest, metric, labels_json) for digest, (metric, labels_json) in missing.items()]
        found: dict[bytes, int] = {}
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO series (tenant_id, series_hash, metric, labels) VALUES (%s, %s, %s, %s)"
                " ON DUPLICATE KEY UPDATE id = id",
                rows,
            )
            connection.commit()
            digests = list(missing)
            for start in range(0, len(digests), INSERT_CHUNK_ROWS):
                chunk = digests[start:start + INSERT_CHUNK_ROWS]
                placeholders = ",".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT series_hash, id FROM series WHERE tenant_id = %s AND series_hash IN ({placeholders})",
                    (tenant_id, *chunk),
                )
                for digest, series_id in cursor.fetchall():
                    found[bytes(digest)] = series_id
                    self.cache.put((tenant_id, bytes(digest)), series_id)
        return found

    def _insert_samples(self, tenant_id: int, series_ids: list[int], samples: list[Sample]) -> None:
        connection = self.connection()
        with connection.cursor() as cursor:
            for start in range(0, len(samples), INSERT_CHUNK_ROWS):
                # Every value is an int or a finite float (validated at the edge), so literal
                # formatting is safe and several times faster than driver-side escaping.
                values = ",".join(
                    f"({tenant_id},{series_id},{int(sample[2])},{float(sample[3])!r})"
                    for series_id, sample in zip(series_ids[start:start + INSERT_CHUNK_ROWS],
                                                 samples[start:start + INSERT_CHUNK_ROWS])
                )
                cursor.execute(
                    "INSERT INTO samples (tenant_id, series_id, ts, value) VALUES "
                    + values
                    + " ON DUPLICATE KEY UPDATE value = VALUE(value)"
                )
        connection.commit()
