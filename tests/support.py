"""Test support: the whole stack as real processes (MariaDB, Redis, Mosquitto, api, worker, bridge)."""

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from microdash_cli.localstack import ServiceInstances, free_port, start_component
import numpy as np

from microdash_core import chunks, db
from microdash_core.partitions import ensure_partitions, existing_partitions
from microdash_core.settings import Settings
from microdash_core.store import head_log
from microdash_core.store.reads import Span, read_series
from microdash_core.tenants import api_tokens, directory, memberships as member_store

# Tests shorten the timings that production keeps long, so failures and recovery show quickly.
TEST_SETTINGS_ENV = {
    "MICRODASH_LOG_LEVEL": "INFO",
    "MICRODASH_TOKEN_CACHE_SECONDS": "1",
    "MICRODASH_INGEST_JOB_TIMEOUT_SECONDS": "3",
    "MICRODASH_INGEST_RETRY_INTERVALS": "[1,1,1,2,2,2,3,3,3,3]",
    "MICRODASH_WORKER_MAINTENANCE_INTERVAL_SECONDS": "1",
    "MICRODASH_INGEST_ORPHAN_AFTER_SECONDS": "15",
    "MICRODASH_SSE_PING_SECONDS": "1",
    # the notification tests' receivers listen here; every other internal address stays refused
    "MICRODASH_NOTIFY_ALLOWED_CIDRS": "127.0.0.1/32",
}
# Each throwaway MariaDB preallocates its redo log on disk, and a test run starts dozens of them:
# a small one keeps a run's temporary directory to a few GB (a full disk failed a whole CI run).
TEST_MARIADB_REDO_LOG_SIZE = "48M"


def throwaway_services(root: Path, **options) -> ServiceInstances:
    """Throwaway MariaDB and Redis (and Mosquitto with mosquitto=True) for a test."""
    return ServiceInstances(root, mariadb_redo_log_size=TEST_MARIADB_REDO_LOG_SIZE, **options)


# Every raw sample a test may have stored, sealed or not.
ALL_TIME = Span(-(2**62), 2**62)
# The components are started as `microdash ...` processes from the project's venv.
os.environ["PATH"] = f"{Path(__file__).resolve().parents[1] / '.venv' / 'bin'}:{os.environ['PATH']}"


@dataclass
class Stack:
    services: ServiceInstances
    env: dict[str, str]
    api_url: str
    log_dir: Path
    processes: dict

    @property
    def settings(self) -> Settings:
        mqtt = {"mqtt_url": self.env["MICRODASH_MQTT_URL"],
                "mqtt_admin_password": self.env["MICRODASH_MQTT_ADMIN_PASSWORD"]} if "MICRODASH_MQTT_URL" in self.env else {}
        return Settings(database_url=self.env["MICRODASH_DATABASE_URL"], redis_url=self.env["MICRODASH_REDIS_URL"],
                        notify_allowed_cidrs=self.env["MICRODASH_NOTIFY_ALLOWED_CIDRS"], **mqtt)

    def client(self, token: str | None = None, headers: dict | None = None, **kwargs) -> httpx.Client:
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=10, **kwargs)

    def new_tenant(self, prefix: str = "t", **kwargs) -> tuple[directory.Tenant, str]:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        with db.transaction(self.settings) as cursor:
            tenant = directory.create_tenant(cursor, name=name, **kwargs)
            token = api_tokens.issue_token(cursor, tenant=tenant)
        return tenant, token

    def new_mqtt_tenant(self, prefix: str = "m", **kwargs):
        """A tenant created through the tenant service, so the broker knows its credentials."""
        from microdash_core.tenant_service import TenantService

        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        credentials = TenantService(self.settings).create(name, **kwargs)
        assert credentials.broker_error is None, credentials.broker_error
        (tenant_id,), = self.sql("SELECT id FROM tenants WHERE name = %s", (name,))
        return tenant_id, credentials

    def new_user(self, memberships: list[tuple[directory.Tenant, str]], password: str = "correct horse") -> str:
        """A dashboard user with a role in each of the given tenants; returns the email."""
        email = f"u-{uuid.uuid4().hex[:10]}@example.test"
        with db.transaction(self.settings) as cursor:
            user = member_store.create_user(cursor, email=email, password=password)
            for tenant, role in memberships:
                member_store.grant(cursor, user=user, tenant=tenant, role=role)
        return email

    def session_client(self, email: str, password: str = "correct horse", **login) -> httpx.Client:
        """A client signed in to the dashboard, sending the session's CSRF token like the app does."""
        response = httpx.post(self.api_url + "/api/v1/auth/login",
                              json={"email": email, "password": password, **login})
        assert response.status_code == 200, response.text
        return self.client(cookies=response.cookies, headers={"X-CSRF-Token": response.json()["csrf_token"]})

    def redis_client(self):
        import redis

        return redis.Redis.from_url(self.env["MICRODASH_REDIS_URL"])

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with db.transaction(self.settings) as cursor:
            cursor.execute(query, params)
            return list(cursor.fetchall())

    def stored_samples(self, tenant_id: int, span: Span = ALL_TIME) -> list[tuple[int, int, float]]:
        """The tenant's raw samples (series id, ts, value) by series and time, wherever they are
        stored: the head (`samples`) or sealed chunks, read as the api reads them, so a sealer
        moving them between the two changes nothing a test sees."""
        with db.transaction(self.settings) as cursor:
            found = read_series(cursor, tenant_id=tenant_id, series_ids=None, span=span)
        return [(series_id, int(ts), float(value))
                for series_id in sorted(found) for ts, value in zip(*found[series_id])]

    def stored_samples_of_series(self, tenant_id: int, span: Span = ALL_TIME) -> list[tuple[str, str, int, float]]:
        """stored_samples as (metric, canonical labels JSON, ts, value)."""
        names = {series_id: (metric, labels) for series_id, metric, labels in
                 self.sql("SELECT id, metric, labels FROM series WHERE tenant_id = %s", (tenant_id,))}
        return [(*names[series_id], ts, value) for series_id, ts, value in self.stored_samples(tenant_id, span)]

    def count_samples(self, tenant_id: int, span: Span = ALL_TIME) -> int:
        return len(self.stored_samples(tenant_id, span))

    def wait_for_samples(self, tenant_id: int, expected: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        count = self.count_samples(tenant_id)
        while count < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self.count_samples(tenant_id)
        return count


def start_stack(root: Path, *, workers: int = 1, extra_env: dict | None = None, mqtt: bool = False,
                services: ServiceInstances | None = None) -> Stack:
    """The whole stack; if any part fails to start, what did start is stopped again."""
    own_services = services is None
    services = services or throwaway_services(root, log_dir=root, mosquitto=mqtt)
    api_port = free_port()
    stack = Stack(services, {}, f"http://127.0.0.1:{api_port}", root, {})
    try:
        if own_services:
            services.start()
        stack.env = {**TEST_SETTINGS_ENV, **services.environment(), "MICRODASH_API_PORT": str(api_port),
                     "MICRODASH_BRIDGE_CLIENT_ID": f"bridge-{api_port}", **(extra_env or {})}
        _start_components(stack, workers=workers, mqtt=mqtt)
    except BaseException:
        stop_stack(stack, services=own_services)
        raise
    return stack


def _start_components(stack: Stack, *, workers: int, mqtt: bool) -> None:
    env, root = stack.env, stack.log_dir
    migrate = start_component(["migrate"], env, root / "migrate.log")
    assert migrate.wait(timeout=120) == 0, (root / "migrate.log").read_text()
    if mqtt:
        sync = start_component(["broker", "sync"], env, root / "broker-sync.log")
        assert sync.wait(timeout=60) == 0, (root / "broker-sync.log").read_text()
        stack.processes["bridge"] = start_component(["bridge"], env, root / "bridge.log")
    stack.processes["api"] = start_component(["api"], env, root / "api.log")
    for index in range(workers):
        stack.processes[f"worker{index}"] = start_component(["worker"], env, root / f"worker{index}.log")
    _wait_ready(stack)


def _wait_ready(stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.processes["api"].poll() is not None:
            raise RuntimeError("api exited:\n" + (stack.log_dir / "api.log").read_text()[-3000:])
        try:
            if httpx.get(stack.api_url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("api not ready:\n" + (stack.log_dir / "api.log").read_text()[-3000:])


@contextmanager
def extra_api(stack: Stack, log_dir: Path, **env: str) -> Iterator[str]:
    """Another api process on the stack's services, with settings of its own; yields its URL."""
    with extra_api_process(stack, log_dir, **env) as (url, _process):
        yield url


@contextmanager
def extra_api_process(stack: Stack, log_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like extra_api, yielding the process too (to watch its memory, say)."""
    port = free_port()
    api_env = {**stack.env, "MICRODASH_API_PORT": str(port), **env}
    own_dir = log_dir / f"api-{port}"
    own_dir.mkdir(parents=True, exist_ok=True)
    process = start_component(["api"], api_env, own_dir / "api.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(Stack(stack.services, api_env, url, own_dir, {"api": process}))
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def stop_stack(stack: Stack, *, services: bool = True) -> None:
    for process in stack.processes.values():
        process.terminate()
    for process in stack.processes.values():
        try:
            process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            process.kill()
    if services:
        stack.services.stop()


def insert_chunk(cursor, *, tenant_id: int, series_id: int, timestamps: list[int], values: list[float],
                 part: int = 0) -> None:
    """A sealed chunk row, as the sealer writes it (the timestamps lie in one window)."""
    blob = chunks.encode(np.array(timestamps, dtype=np.int64), np.array(values, dtype=np.float64))
    cursor.execute("INSERT INTO sample_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                   (tenant_id, series_id, chunks.window_of(timestamps[0]), part, len(timestamps), min(timestamps),
                    max(timestamps), blob))


def append_log(cursor, *, tenant_id: int, series_ids: list[int], timestamps: list[int], values: list[float]) -> int:
    """Log rows, as the worker writes them for a stored batch (one per series bucket); returns the
    id of the last (the largest: ids grow, and the caller's transaction sees its own rows)."""
    head_log.append(cursor, tenant_id, np.array(series_ids, dtype=np.int64), np.array(timestamps, dtype=np.int64),
                    np.array(values, dtype=np.float64))
    cursor.execute("SELECT MAX(id) FROM sample_log WHERE tenant_id = %s", (tenant_id,))
    return int(cursor.fetchone()[0])


def recent_ms(offset_ms: int = 0) -> int:
    return int(time.time() * 1000) + offset_ms


def partition_legacy_head(settings: Settings, *, today: dt.date, days_back: int, days_ahead: int) -> None:
    """The legacy head as a database upgraded with rows in it keeps it until they are sealed: daily
    partitions, made before 0011 while it was the head (a fresh one is unpartitioned: migrate)."""
    with db.transaction(settings) as cursor:
        cursor.execute("ALTER TABLE samples PARTITION BY RANGE (ts) (PARTITION p_future VALUES LESS THAN MAXVALUE)")
        ensure_partitions(cursor, table="samples", today=today, days_back=days_back, days_ahead=days_ahead)


def legacy_head_partitioned(cursor) -> bool:
    return bool(existing_partitions(cursor, "samples"))
