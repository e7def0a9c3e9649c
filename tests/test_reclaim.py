"""Reclaiming the head's freed space on a real MariaDB (store.reclaim): after a seal of a big head
the table's files shrink; writes during a rebuild (legacy head rows into the table rebuilt, the
worker's SampleStore and the real api, which append to the log) are all there afterwards, once
each, with their newest value; a rebuild held up by an open transaction
gives up within its lock wait; a client killed mid-rebuild leaves the table whole and reclaimable;
small or busy heads are left alone; the sealing job and `microdash migrate` reclaim."""

import datetime as dt
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest
from pymysql.err import OperationalError

from microdash_core import db, keys
from microdash_core.store import compaction, reclaim, sealing
from microdash_core.tenants import directory
from seal_support import (CURRENT, NOW, WINDOW, Rewrites, assert_nothing_doubled, assert_reads_exactly, by_series,
                          compact_and_seal, drop_database, head_count, migrated_database, repeated_in_background,
                          write_head)
from support import partition_legacy_head, throwaway_services

EAGER = reclaim.Policy(min_free_bytes=1024 * 1024, min_free_ratio=1.0, lock_wait_seconds=1)
HEAD_ROWS = 240_000  # ~14 MB of head files


def legacy_head_as_upgraded(settings) -> None:
    """A legacy head with rows to reclaim is an upgraded database's: daily-partitioned until sealed."""
    day = dt.datetime.fromtimestamp(NOW / 1000, tz=dt.timezone.utc).date()
    partition_legacy_head(settings, today=day, days_back=7, days_ahead=7)


@pytest.fixture
def database(stack):
    settings = migrated_database(stack, "reclaim")
    legacy_head_as_upgraded(settings)
    yield settings
    drop_database(settings)


def head_file_bytes(stack, settings) -> int:
    """Bytes the head's files (every partition) take on disk."""
    folder = Path(stack.services.root) / "mariadb" / db.DatabaseAddress.from_url(settings.database_url).database
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute("FLUSH TABLES samples FOR EXPORT")  # every dirty page written first
        cursor.execute("UNLOCK TABLES")
    files = [*folder.glob("samples.ibd"), *folder.glob("samples#[Pp]#*.ibd")]
    return sum(path.stat().st_blocks * 512 for path in files)


def log_file_bytes(stack, settings) -> int:
    folder = Path(stack.services.root) / "mariadb" / db.DatabaseAddress.from_url(settings.database_url).database
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute("FLUSH TABLES sample_log FOR EXPORT")
        cursor.execute("UNLOCK TABLES")
    return (folder / "sample_log.ibd").stat().st_blocks * 512


def big_head(settings, *, windows=(CURRENT - WINDOW,), tenant=1, series=400, first_series=1) -> dict:
    rows_per_series = HEAD_ROWS // series // len(windows)
    rows = [(tenant, s, window + i * 1000 + s % 1000, float(s * 1000 + i)) for window in windows
            for s in range(first_series, first_series + series) for i in range(rows_per_series)]
    expected: dict = {}
    write_head(settings, rows, expected)
    return expected


def _seal(settings, cutoff_ms=NOW) -> sealing.Sealed:
    """Seal, then what the next job run would find a minute later: InnoDB's purge done (the deleted
    rows' pages are free only after it: DATA_FREE) and the table's statistics recalculated
    (InnoDB does it in the background once a tenth of the rows changed: DATA_LENGTH)."""
    sealed = compact_and_seal(settings, cutoff_ms)  # what the worker's SampleStore wrote is in the log
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute("SET GLOBAL innodb_max_purge_lag_wait = 0")
        cursor.execute("ANALYZE TABLE samples")
        cursor.fetchall()
    return sealed


def _reclaim(settings, policy=EAGER, **kwargs) -> reclaim.Reclaimed:
    with closing(db.connect(settings)) as connection:
        return reclaim.reclaim_table(connection, "samples", policy, **kwargs)


def test_after_a_seal_of_a_big_head_the_rebuild_returns_the_space_and_keeps_every_sample(stack, database):
    expected = big_head(database, windows=(CURRENT - WINDOW, CURRENT))
    assert _seal(database).samples == HEAD_ROWS // 2  # the open window stays in the head
    sealed_size = head_file_bytes(stack, database)

    done = _reclaim(database)

    assert done.outcome == "rebuilt" and done.rebuilt, (done, sealed_size)
    assert done.before.reclaimable(60) >= EAGER.min_free_bytes and done.after.footprint < done.before.footprint
    after = head_file_bytes(stack, database)
    assert after < sealed_size * 0.75, (sealed_size, after)
    assert head_count(database) == HEAD_ROWS // 2
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)

    _seal(database, CURRENT + 2 * WINDOW)  # the rest, then the files come down to their empty size
    assert _reclaim(database).rebuilt
    assert head_file_bytes(stack, database) < after / 4
    assert_reads_exactly(database, expected)


def test_a_head_not_worth_it_is_left_alone(stack, database):
    expected = big_head(database)
    with closing(db.connect(database)) as connection:
        full = reclaim.reclaim_table(connection, "samples", reclaim.Policy(min_free_bytes=0, min_free_ratio=1.0))
    assert full.outcome == "not worth it", full  # rows everywhere, little free: a rebuild returns little
    assert full.after is None and full.before.rows == HEAD_ROWS

    _seal(database)
    size = head_file_bytes(stack, database)
    with closing(db.connect(database)) as connection:
        big_enough = reclaim.Policy(min_free_bytes=size * 4, min_free_ratio=0.0)
        assert reclaim.reclaim_table(connection, "samples", big_enough).outcome == "not worth it"
    assert head_file_bytes(stack, database) == size
    assert_reads_exactly(database, expected)


def test_a_rebuild_held_up_by_an_open_transaction_gives_up_within_its_lock_wait(stack, database):
    expected = big_head(database)
    _seal(database)
    size = head_file_bytes(stack, database)
    with closing(db.connect(database)) as holder:
        with holder.cursor() as cursor:
            cursor.execute("START TRANSACTION")
            cursor.execute("SELECT COUNT(*) FROM samples WHERE tenant_id = 1")  # holds the metadata lock
        started = time.monotonic()
        done = _reclaim(database)
        waited = time.monotonic() - started
        holder.commit()
    assert done.outcome == "lock wait timeout" and not done.rebuilt and done.bytes_returned == 0
    assert waited < 10
    assert head_file_bytes(stack, database) == size
    assert _reclaim(database).rebuilt  # the next run gets it
    assert head_file_bytes(stack, database) < size / 2
    assert_reads_exactly(database, expected)


def test_samples_stored_during_rebuilds_are_all_there_once_with_their_newest_value(stack, database):
    from microdash_workers.storage import SampleStore

    with db.transaction(database) as cursor:
        tenant = directory.create_tenant(cursor, name="reclaim-race")
    # A big head of the tenant's own (raw) series, half of it sealed: rows to copy and space to return.
    expected = big_head(database, windows=(CURRENT - WINDOW, CURRENT), tenant=tenant.id, series=200,
                        first_series=10_000_000)  # far from the ids the store gives its series
    _seal(database)
    store = SampleStore(database)
    rng = random.Random(7)
    writes = Rewrites(rng, metric="reclaim_metric", label="k", series=30,  # new samples and re-writes, in two windows
                      timestamp=lambda rng: rng.choice((CURRENT - WINDOW, CURRENT)) + rng.randrange(400) * 15_000)
    outcomes: list[str] = []
    deadline = time.monotonic() + 300
    try:
        with repeated_in_background(database, lambda connection: outcomes.append(
                reclaim.reclaim_table(connection, "samples", EAGER, force=True).outcome)):
            while len(outcomes) < 4 or len(writes.written) < 5000:
                store.store(tenant_id=tenant.id, samples=writes.batch(100))
                # and legacy head rows, as a worker from before the log writes them (a rolling upgrade):
                # the table being rebuilt takes writes too
                legacy = [(tenant.id, 10_000_000 + rng.randrange(200), rng.choice((CURRENT - WINDOW, CURRENT))
                           + rng.randrange(400) * 15_000 + 7, writes.value + 0.5) for _ in range(20)]
                write_head(database, legacy, expected)
                assert time.monotonic() < deadline, outcomes
    finally:
        store.close()
    assert outcomes.count("rebuilt") >= 3, outcomes
    by_series(database, tenant.id, writes.written, "k", expected)
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)
    _seal(database, CURRENT + 2 * WINDOW)
    assert head_count(database) == 0
    assert_reads_exactly(database, expected)


def test_samples_posted_to_the_api_during_rebuilds_of_the_shared_head_are_all_there(stack):
    """The real api and worker writing into the stack's own database while its head is rebuilt."""
    tenant, token = stack.new_tenant("reclaim-api")
    settings = stack.settings
    base = int(time.time() * 1000) - 3_600_000
    writes = Rewrites(random.Random(8), metric="reclaim_api", label="k", series=10, prefix="a",
                      timestamp=lambda rng: base + rng.randrange(500) * 1000)
    outcomes: list[str] = []
    with repeated_in_background(settings, lambda connection: outcomes.append(
            reclaim.reclaim_table(connection, "samples", EAGER, force=True).outcome)):
        with stack.client(token) as client:
            for _request in range(40):
                assert client.post("/api/v1/metrics/bulk", json=writes.body(100)).status_code == 202
        wanted = {(f'{{"k":"{label}"}}', ts): v for (label, ts), v in writes.written.items()}
        deadline = time.monotonic() + 60
        while _found(stack, tenant.id) != wanted and time.monotonic() < deadline:  # until the worker stored all
            time.sleep(0.2)
    assert outcomes.count("rebuilt") >= 2, outcomes
    assert _found(stack, tenant.id) == wanted
    assert len(stack.stored_samples(tenant.id)) == len(wanted)  # nothing twice


def _found(stack, tenant_id: int) -> dict:
    labels_of = dict(stack.sql("SELECT id, labels FROM series WHERE tenant_id = %s", (tenant_id,)))
    return {(labels_of[series_id], ts): value for series_id, ts, value in stack.stored_samples(tenant_id)}


RECLAIMER = """
import sys
from contextlib import closing
from microdash_core import db
from microdash_core.settings import Settings
from microdash_core.store import reclaim
settings = Settings(database_url=sys.argv[1])
with closing(db.connect(settings)) as connection:
    while True:
        print(reclaim.reclaim_table(connection, "samples", force=True).outcome, flush=True)
"""


def test_a_reclaimer_killed_mid_rebuild_leaves_the_head_whole_and_reclaimable(stack, database):
    expected = big_head(database, windows=(CURRENT - WINDOW, CURRENT))
    _seal(database)
    env = {**stack.env, "MICRODASH_DATABASE_URL": database.database_url}
    rng = random.Random(9)
    for _round in range(3):
        process = subprocess.Popen([sys.executable, "-c", RECLAIMER, database.database_url], env=env,
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() in ("rebuilt", "lock wait timeout")
        time.sleep(rng.uniform(0, 0.4))  # somewhere in the next rebuild
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
    _wait_until_no_alter_runs(database)
    assert_reads_exactly(database, expected)
    assert_nothing_doubled(database, expected)
    folder = Path(stack.services.root) / "mariadb" / db.DatabaseAddress.from_url(database.database_url).database
    assert not list(folder.glob("#sql*")), "a rebuild left an intermediate table behind"
    assert _reclaim(database, force=True).rebuilt
    assert_reads_exactly(database, expected)


def _wait_until_no_alter_runs(settings, timeout: float = 60) -> None:
    """The server finishes (or rolls back) a statement whose client is gone on its own time."""
    name = db.DatabaseAddress.from_url(settings.database_url).database
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction(settings) as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE 'ALTER%%'",
                           (name,))
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    raise AssertionError("an ALTER TABLE is still running")


def test_the_sealing_job_reclaims_after_sealing_everything_due_and_counts_it(stack, database):
    from microdash_workers.sealing import seal_windows

    expected = big_head(database)
    settings = database.model_copy(update={"reclaim_min_free_bytes": 1024 * 1024})
    redis_client = stack.redis_client()
    counted = {name: int(redis_client.hget(keys.TELEMETRY_COUNTERS, name) or 0)
               for name in ("head_rebuilds", "head_bytes_reclaimed")}
    size = head_file_bytes(stack, database)

    assert seal_windows(settings, now_ms=NOW) == HEAD_ROWS

    assert head_file_bytes(stack, database) < size / 2
    assert int(redis_client.hget(keys.TELEMETRY_COUNTERS, "head_rebuilds")) == counted["head_rebuilds"] + 1
    assert int(redis_client.hget(keys.TELEMETRY_COUNTERS, "head_bytes_reclaimed")) > counted["head_bytes_reclaimed"]
    exposed = httpx.get(stack.api_url + "/metrics").text
    assert "microdash_head_rebuilds_total" in exposed
    assert_reads_exactly(database, expected)
    assert seal_windows(settings, now_ms=NOW) == 0  # nothing freed since: no second rebuild
    assert int(redis_client.hget(keys.TELEMETRY_COUNTERS, "head_rebuilds")) == counted["head_rebuilds"] + 1


def test_the_sealing_job_does_not_reclaim_when_disabled(stack, database):
    from microdash_workers.sealing import seal_windows

    big_head(database)
    settings = database.model_copy(update={"reclaim_min_free_bytes": 1024 * 1024, "reclaim_enabled": False})
    seal_windows(settings, now_ms=NOW)
    sealed_size = head_file_bytes(stack, database)
    assert sealed_size > 4 * 1024 * 1024
    with closing(db.connect(database)) as connection, connection.cursor() as cursor:
        assert reclaim.table_space(cursor, "samples").reclaimable(60) >= 1024 * 1024  # it was worth it


def test_only_table_names_are_rebuilt(database):
    with closing(db.connect(database)) as connection:
        with pytest.raises(ValueError):
            reclaim.rebuild(connection, "samples; DROP TABLE series", lock_wait_seconds=1)
        with pytest.raises(ValueError), connection.cursor() as cursor:
            reclaim.table_space(cursor, "no_such_table")


def test_mariadb_killed_mid_rebuild_comes_back_with_the_table_whole_and_reclaimable(tmp_path):
    """kill -9 of the server itself while it rebuilds (a private MariaDB): its crash recovery rolls
    the rebuild back, every row is there, and the files of the partial copy it leaves behind are
    dropped by the next reclaim (and only those: a rebuild under way keeps its copy)."""
    from microdash_core import migrate
    from microdash_core.settings import Settings

    services = throwaway_services(tmp_path)
    services.start()
    try:
        env = services.environment("crash")
        settings = Settings(database_url=env["MICRODASH_DATABASE_URL"], redis_url=env["MICRODASH_REDIS_URL"])
        migrate.migrate(settings)
        legacy_head_as_upgraded(settings)
        with db.transaction(settings) as cursor:  # 600,000 rows from MariaDB's sequence engine
            cursor.execute("INSERT INTO samples (tenant_id, series_id, ts, value) SELECT 1, seq DIV 1000,"
                           f" {CURRENT} + (seq MOD 1000) * 1000, seq * 0.5 FROM seq_0_to_599999")
        before = _fingerprint(settings)
        rng = random.Random(10)
        left_in_all = 0
        for _round in range(3):
            thread = threading.Thread(target=_rebuild_until_the_server_dies, args=(settings,), daemon=True)
            thread.start()
            _wait_for_alter(settings)
            with closing(db.connect(settings)) as connection:
                assert reclaim.drop_left_behind_copies(connection) == []  # its copy is a live one
            time.sleep(rng.uniform(0, 0.2))
            services.stop_service("mariadb", kill=True)
            thread.join(timeout=30)
            services.restart_service("mariadb")
            assert _fingerprint(settings) == before
            left = _left_behind(tmp_path)  # MariaDB's crash recovery leaves the copy's files
            with closing(db.connect(settings)) as connection:
                dropped = reclaim.drop_left_behind_copies(connection)
            assert len(dropped) == len(left) and not _left_behind(tmp_path), (left, dropped)
            left_in_all += len(left)
        assert left_in_all, "no kill hit a rebuild: the test tested nothing"
        assert _reclaim(settings, force=True).rebuilt
        assert _fingerprint(settings) == before
    finally:
        services.stop()


def _left_behind(root: Path) -> list[Path]:
    return list((root / "mariadb" / "crash").glob("#sql*.ibd"))


def _rebuild_until_the_server_dies(settings) -> None:
    try:
        with closing(db.connect(settings)) as connection:
            while True:
                reclaim.reclaim_table(connection, "samples", force=True)
    except Exception:  # noqa: BLE001 - the server was killed under it: that is the test
        return


def _wait_for_alter(settings, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with closing(db.connect(settings)) as connection:
        connection.autocommit(True)
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%%'")
                if cursor.fetchone()[0]:
                    return
                time.sleep(0.005)
    raise AssertionError("no rebuild started")


def _fingerprint(settings) -> tuple:
    with db.transaction(settings) as cursor:
        cursor.execute("SELECT COUNT(*), SUM(ts), SUM(value),"
                       " BIT_XOR(CRC32(CONCAT_WS(',', tenant_id, series_id, ts, value))) FROM samples")
        return tuple(cursor.fetchone())


def test_a_user_without_process_skips_the_crash_clean_up_logs_it_once_counts_it_and_rebuilds(
        stack, database, no_backoff, caplog):
    """The chart's database user has ALL on its database and no PROCESS: the look for a crashed
    rebuild's copy (InnoDB's dictionary) is skipped, logged once per process and counted every
    run; the rebuild works. Granted PROCESS, the same user looks."""
    from microdash_workers.reclaiming import reclaim_head

    expected = big_head(database)
    _seal(database)
    settings = database.model_copy(update={"reclaim_min_free_bytes": 1024 * 1024})
    skipped = int(no_backoff.hget(keys.TELEMETRY_COUNTERS, "head_crash_cleanups_skipped") or 0)
    reclaim._warn_no_process_privilege.cache_clear()  # as in a fresh worker process
    user = _database_user(database, "ALL")
    with user as limited:
        with closing(db.connect(limited)) as connection:
            with pytest.raises(OperationalError) as refused, connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM information_schema.INNODB_SYS_TABLES")
            assert refused.value.args[0] == 1227  # you need the PROCESS privilege
            assert reclaim.drop_left_behind_copies(connection) is None
            assert _outcome(reclaim_head(connection, settings, no_backoff)) == "rebuilt"
            assert _outcome(reclaim_head(connection, settings, no_backoff)) == "not worth it"
        assert int(no_backoff.hget(keys.TELEMETRY_COUNTERS, "head_crash_cleanups_skipped")) == skipped + 2
        warnings = [record for record in caplog.records if "PROCESS" in record.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelname == "WARNING"

        with closing(db.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(f"GRANT PROCESS ON *.* TO '{user.user}'@'%'")
        with closing(db.connect(limited)) as connection:
            assert reclaim.drop_left_behind_copies(connection) == []  # looked, found none
            reclaim_head(connection, settings, no_backoff)
        assert int(no_backoff.hget(keys.TELEMETRY_COUNTERS, "head_crash_cleanups_skipped")) == skipped + 2
    assert_reads_exactly(database, expected)
    assert "microdash_head_crash_cleanups_skipped_total" in httpx.get(stack.api_url + "/metrics").text

@pytest.fixture
def no_backoff(stack):
    """The backoff's Redis keys are per table name, and the tests share one Redis: none before, none after."""
    redis_client = stack.redis_client()
    names = [name for table in reclaim.HEAD_TABLES for name in (keys.reclaim_backoff(table), keys.reclaim_failures(table))]
    redis_client.delete(*names)
    yield redis_client
    redis_client.delete(*names)


def _outcome(done: list[reclaim.Reclaimed], table: str = "samples") -> str | None:
    """What became of one table in a reclaim of the head (None: not tried)."""
    return next((reclaimed.outcome for reclaimed in done if reclaimed.table == table), None)


def _counters(redis_client) -> dict[str, int]:
    return {name: int(redis_client.hget(keys.TELEMETRY_COUNTERS, name) or 0) for name in
            ("head_rebuilds", "head_rebuilds_given_up", "head_rebuilds_failed", "head_rebuilds_deferred")}


def _more(redis_client, before: dict[str, int]) -> dict[str, int]:
    return {name: count - before[name] for name, count in _counters(redis_client).items() if count != before[name]}


def test_a_rebuild_that_gave_up_waits_out_its_backoff_instead_of_stalling_ingest_every_run(
        stack, database, no_backoff):
    from microdash_workers.sealing import seal_windows

    expected = big_head(database)
    settings = database.model_copy(update={"reclaim_min_free_bytes": 1024 * 1024, "reclaim_backoff_seconds": 120})
    redis_client, counted = no_backoff, _counters(no_backoff)
    size = head_file_bytes(stack, database)
    with closing(db.connect(database)) as holder:
        with holder.cursor() as cursor:
            cursor.execute("START TRANSACTION")
            cursor.execute("SELECT COUNT(*) FROM samples WHERE tenant_id = 2")  # holds the metadata lock
        assert seal_windows(settings, now_ms=NOW) == HEAD_ROWS
        holder.commit()
    assert _more(redis_client, counted) == {"head_rebuilds_given_up": 1}
    assert 110 <= redis_client.ttl(keys.reclaim_backoff("samples")) <= 120
    given_up_size = head_file_bytes(stack, database)
    assert given_up_size >= size * 0.9  # nothing rebuilt

    assert seal_windows(settings, now_ms=NOW) == 0  # the transaction is gone, but the table waits
    assert _more(redis_client, counted) == {"head_rebuilds_given_up": 1, "head_rebuilds_deferred": 1}
    assert head_file_bytes(stack, database) == given_up_size

    redis_client.delete(keys.reclaim_backoff("samples"))  # as its TTL would
    seal_windows(settings, now_ms=NOW)
    assert _more(redis_client, counted) == {"head_rebuilds_given_up": 1, "head_rebuilds_deferred": 1, "head_rebuilds": 1}
    assert head_file_bytes(stack, database) < size / 2
    assert not redis_client.exists(keys.reclaim_failures("samples"))  # a success starts the backoff over
    assert_reads_exactly(database, expected)
    exposed = httpx.get(stack.api_url + "/metrics").text
    assert "microdash_head_rebuilds_deferred_total" in exposed and "microdash_head_rebuilds_failed_total" in exposed


def test_the_backoff_doubles_with_each_failure_in_a_row_up_to_its_maximum(stack, database, no_backoff):
    from microdash_workers.reclaiming import FAILURES_REMEMBERED_SECONDS, Backoff

    settings = database.model_copy(update={"reclaim_backoff_seconds": 100, "reclaim_backoff_max_seconds": 350})
    backoff = Backoff(no_backoff, settings)
    assert not backoff.waiting("samples")
    assert [backoff.failed("samples") for _ in range(4)] == [100, 200, 350, 350]
    assert backoff.waiting("samples") and 340 <= no_backoff.ttl(keys.reclaim_backoff("samples")) <= 350
    assert no_backoff.ttl(keys.reclaim_failures("samples")) > FAILURES_REMEMBERED_SECONDS
    backoff.succeeded("samples")
    assert not backoff.waiting("samples") and backoff.failed("samples") == 100
    backoff.succeeded("samples")
    no_wait = Backoff(no_backoff, database.model_copy(update={"reclaim_backoff_seconds": 0}))
    assert no_wait.failed("samples") == 0 and not no_wait.waiting("samples")


def test_a_rebuild_that_fails_is_logged_counted_and_backed_off_and_the_sealing_run_goes_on(
        stack, database, no_backoff, caplog):
    """A user who may write the head but not ALTER it: MariaDB refuses the rebuild (an error, not a
    lock wait given up)."""
    from microdash_workers.reclaiming import reclaim_head

    expected = big_head(database)
    _seal(database)
    settings = database.model_copy(update={"reclaim_min_free_bytes": 1024 * 1024})
    counted = _counters(no_backoff)
    with _database_user(database, "SELECT, INSERT, UPDATE, DELETE") as limited:
        with closing(db.connect(limited)) as connection:
            assert _outcome(reclaim_head(connection, settings, no_backoff)) is None
            assert _outcome(reclaim_head(connection, settings, no_backoff)) is None  # backed off: not tried again
    assert _more(no_backoff, counted) == {"head_rebuilds_failed": 1, "head_rebuilds_deferred": 1}
    assert 590 <= no_backoff.ttl(keys.reclaim_backoff("samples")) <= 600
    [failed] = [record for record in caplog.records if "failed" in record.getMessage()]
    assert failed.table == "samples" and failed.retry_in_seconds == 600 and "ALTER" in failed.exc_text
    assert_reads_exactly(database, expected)


class _database_user:
    """A MariaDB user with the given rights on the test's database only; the settings to use it."""

    def __init__(self, settings, grants: str):
        self.settings, self.grants = settings, grants
        self.database = db.DatabaseAddress.from_url(settings.database_url).database
        self.user = f"u{self.database[-10:]}"

    def __enter__(self):
        with closing(db.connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY 'pw'")
            cursor.execute(f"GRANT {self.grants} ON `{self.database}`.* TO '{self.user}'@'%'")
        return self.settings.model_copy(update={
            "database_url": self.settings.database_url.replace("root@", f"{self.user}:pw@")})

    def __exit__(self, *exc_info) -> None:
        with closing(db.connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP USER '{self.user}'@'%'")


def test_the_log_after_a_burst_is_rebuilt_online_and_keeps_what_waits_in_it(stack, database):
    """A burst fills the log's files; compaction empties it but for the samples that wait (their
    series not due); the reclaim rebuilds the log and every sample reads the same after, the
    waiting ones still newest (a later write wins over them, their compacted parts lose to them)."""
    from seal_support import read_all, write_log

    expected: dict = {}
    noise = np.random.default_rng(3).normal(0, 1e6, 200_000)  # incompressible: ~4 MB of log
    rows = [(1, s, CURRENT + i * 1000, float(noise[s * 5000 + i - 5000])) for s in range(1, 41) for i in range(5000)]
    write_log(database, rows, expected, batch_size=20_000)
    write_log(database, [(1, 1000 + s, CURRENT, 1.0) for s in range(50)], expected)  # one sample each: they wait
    with closing(db.connect(database)) as connection:
        done = compaction.compact_due(connection, policy=compaction.Policy(min_samples=100, max_age_seconds=3600))
        assert done.samples == len(rows) and done.waiting == 50
        with connection.cursor() as cursor:
            cursor.execute("SET GLOBAL innodb_max_purge_lag_wait = 0")
            cursor.execute("ANALYZE TABLE sample_log")
            cursor.fetchall()
        assert reclaim.packed_row_bytes(connection, "sample_log") < 2_000  # one small row is left
        size = log_file_bytes(stack, database)
        assert size > 3_000_000
        done = reclaim.reclaim_table(connection, "sample_log", force=True)
    assert done.rebuilt and log_file_bytes(stack, database) < size / 4
    write_log(database, [(1, 1000, CURRENT, 2.0)], expected)  # later than the waiting sample: wins
    assert read_all(database, [1]) == expected
    with closing(db.connect(database)) as connection:
        compaction.compact_due(connection)
    assert read_all(database, [1]) == expected


def test_an_emptied_log_is_worth_a_rebuild_for_less_than_the_head(stack, database):
    """The log's file stays at a burst's high-water mark once compaction emptied it: it is rebuilt
    when that returns 1 MiB (LOG_MIN_FREE_BYTES), where the legacy head waits for 32 MiB."""
    from seal_support import read_all, write_log

    expected: dict = {}
    noise = np.random.default_rng(4).normal(0, 1e6, 400_000)  # incompressible: ~6 MB of log
    rows = [(1, s, CURRENT + i * 1000, float(noise[s * 10_000 + i - 10_000])) for s in range(1, 41) for i in range(10_000)]
    write_log(database, rows, expected, batch_size=20_000)
    with closing(db.connect(database)) as connection:
        assert compaction.compact_due(connection, policy=compaction.Policy(min_samples=100, max_age_seconds=3600)).samples == len(rows)
        with connection.cursor() as cursor:
            cursor.execute("SET GLOBAL innodb_max_purge_lag_wait = 0")
            cursor.execute("ANALYZE TABLE sample_log")
            cursor.fetchall()
        size = log_file_bytes(stack, database)
        free_extents_reported(connection, "sample_log")
        assert size > 6_000_000
        done = reclaim.reclaim_table(connection, "sample_log", reclaim.Policy())
    assert done.rebuilt, done
    assert log_file_bytes(stack, database) < size / 4
    assert read_all(database, [1]) == expected


def free_extents_reported(connection, table: str, timeout: float = 15) -> int:
    """InnoDB reports a table's free extents (DATA_FREE) a moment after its purge freed them."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            free = reclaim.table_space(cursor, table).free_bytes
        connection.commit()
        if free or time.monotonic() > deadline:
            return free
        time.sleep(0.2)
