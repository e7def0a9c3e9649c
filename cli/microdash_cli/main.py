"""The `microdash` command: one entry point for every server process and admin task."""

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import orjson
import redis
import typer

from microdash_core import audit, db, dead_letters, migrate as migrations
from microdash_core.broker import BrokerCommandFailed, BrokerUnavailable
from microdash_core.errors import MicrodashError
from microdash_core.logs import configure_logging
from microdash_core.settings import ENV_FILE_VARIABLE, get_settings
from microdash_core.tenant_service import Credentials, TenantService
from microdash_core.tenants import directory

from . import jobs, localstack, sample_commands, user_commands
from .dev_secrets import ensure_secrets_file
from .demo import seed_demo

app = typer.Typer(help="microdash: multi-tenant metrics platform", no_args_is_help=True, pretty_exceptions_enable=False)
tenant_app = typer.Typer(help="Manage tenants and their API tokens", no_args_is_help=True)
broker_app = typer.Typer(help="Mosquitto dynamic-security state", no_args_is_help=True)
dev_app = typer.Typer(help="Private local service instances (used by `make run`)", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_commands.app, name="user")
app.add_typer(broker_app, name="broker")
app.add_typer(dev_app, name="dev")
app.add_typer(jobs.app, name="jobs")
app.add_typer(sample_commands.app, name="samples")


def _setup():
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(1)


@app.command()
def api(workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1) -> None:
    """Serve the HTTP API and the dashboard."""
    from microdash_api.server import run_api

    run_api(_setup(), workers=workers)


@app.command()
def worker(burst: Annotated[bool, typer.Option(help="exit when the queue is empty")] = False) -> None:
    """Process ingest and maintenance jobs."""
    from microdash_workers.worker import run_worker

    run_worker(_setup(), burst=burst)


@app.command()
def scheduler() -> None:
    """Enqueue periodic jobs (run exactly one)."""
    from microdash_workers.scheduler import run_scheduler

    run_scheduler(_setup())


@app.command()
def migrate(wait: Annotated[float, typer.Option(help="seconds to wait for the database")] = 60.0,
            schema_only: Annotated[bool, typer.Option(
                "--schema-only", help="only the schema and partitions: leave raw rows of past windows for the"
                                      " sealing job to convert into chunks in the background")] = False) -> None:
    """Apply schema migrations, create upcoming partitions, then seal every raw window that is over
    into chunks (idempotent and resumable: an interrupted run continues where it stopped)."""
    settings = _setup()
    try:
        migrations.wait_for_database(settings, timeout=wait)
    except MicrodashError as exc:
        _fail(exc)
    applied = migrations.migrate(settings)
    typer.echo(f"schema up to date ({len(applied)} migration(s) applied)")
    if not schema_only:
        progress = SealProgress()
        sealed = migrations.seal_backlog(settings, on_batch=progress.batch_done)
        typer.echo(f"raw samples of past windows sealed into chunks: {sealed.samples} samples,"
                   f" {sealed.series_windows} series-windows, {sealed.chunks} chunk rows in {sealed.seconds:.1f} s")
        if migrations.unpartition_legacy_head(settings):
            typer.echo("samples: empty, its daily partitions removed (one file instead of one per day)")
        for table in migrations.reclaim_head(settings):
            typer.echo(f"{table.table}: {_reclaim_summary(table)}")


def _reclaim_summary(table) -> str:
    mib = 1024 * 1024
    if table.outcome == "not worth it":
        return f"{table.before.footprint / mib:.0f} MiB for {table.before.rows} rows: not worth a rebuild"
    if table.rebuilt:
        return f"rebuilt in {table.seconds:.1f} s, about {table.bytes_returned / mib:.0f} MiB returned to the file system"
    return f"rebuild gave up ({table.outcome}); the sealing job tries again"


class SealProgress:
    """Prints what the backlog conversion has done, at most once a second."""

    def __init__(self, every_seconds: float = 1.0):
        self.every = every_seconds
        self.printed_at = time.monotonic()
        self.samples = self.series_windows = 0

    def batch_done(self, batch, sealed) -> None:
        self.samples += sealed.samples
        self.series_windows += sealed.series_windows
        if time.monotonic() - self.printed_at >= self.every:
            window = dt.datetime.fromtimestamp(batch.window_start / 1000, tz=dt.timezone.utc)
            typer.echo(f"sealing: {self.samples} samples in {self.series_windows} series-windows so far;"
                       f" at tenant {batch.tenant_id}, window {window:%Y-%m-%d %H:%M}Z")
            self.printed_at = time.monotonic()


@tenant_app.command("create")
def tenant_create(name: str, display_name: Annotated[Optional[str], typer.Option()] = None,
                  rate_limit: Annotated[Optional[int], typer.Option(help="samples/s", min=1)] = None,
                  max_series: Annotated[Optional[int], typer.Option(help="distinct series the tenant may store",
                                                                    min=1)] = None) -> None:
    """Create a tenant and print its first API token and MQTT identity (shown once)."""
    try:
        credentials = TenantService(_setup()).create(name, display_name=display_name, ingest_rate_limit=rate_limit,
                                                     max_series=max_series, actor=audit.command_line_actor())
    except MicrodashError as exc:
        _fail(exc)
    typer.echo(f"tenant {name} created")
    _show_credentials(credentials)


def _show_credentials(credentials: Credentials) -> None:
    typer.echo(f"token: {credentials.token}\nmqtt username: {credentials.mqtt_username}\n"
               f"mqtt password: {credentials.mqtt_password}\nmqtt topic prefix: {credentials.topic_prefix}")
    if credentials.broker_error:
        typer.secho(f"warning: broker not updated: {credentials.broker_error}", fg="yellow", err=True)
        raise typer.Exit(2)


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    with db.transaction(_setup()) as cursor:
        for tenant in directory.list_tenants(cursor):
            typer.echo(f"{tenant.id}\t{tenant.name}\t{tenant.display_name}")


@tenant_app.command("delete")
def tenant_delete(name: str, yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False) -> None:
    """Delete a tenant with all its tokens, series and samples, and its broker clients."""
    if not yes:
        typer.confirm(f"delete tenant {name} and all its data?", abort=True)
    try:
        deleted, broker_error = TenantService(_setup()).delete(name, actor=audit.command_line_actor())
    except MicrodashError as exc:
        _fail(exc)
    typer.echo(f"tenant {name} deleted ({deleted} samples)")
    if broker_error:
        typer.secho(f"warning: broker not updated: {broker_error}", fg="yellow", err=True)
        raise typer.Exit(2)


@app.command("dead-letters")
def dead_letters_command(tenant: Annotated[Optional[str], typer.Option(
                             help="the tenant's list (default: MQTT messages that named no known tenant)")] = None,
                         limit: Annotated[int, typer.Option(min=1, max=dead_letters.KEEP)] = 20) -> None:
    """Print the newest dead letters (what could never be stored, with the reason), one JSON per line."""
    settings = _setup()
    tenant_id = None
    if tenant is not None:
        with db.transaction(settings) as cursor:
            tenant_id = directory.tenant_id_of(cursor, name=tenant)
        if tenant_id is None:
            _fail(MicrodashError(f"no tenant named {tenant}"))
    for entry in dead_letters.latest(redis.Redis.from_url(settings.redis_url), tenant_id, limit):
        typer.echo(orjson.dumps(entry).decode())


@tenant_app.command("rotate-token")
def tenant_rotate_token(name: str) -> None:
    """Revoke every token of the tenant (and its MQTT clients) and print a new one."""
    try:
        credentials = TenantService(_setup()).rotate_token(name, actor=audit.command_line_actor())
    except MicrodashError as exc:
        _fail(exc)
    _show_credentials(credentials)


@broker_app.command("sync")
def broker_sync() -> None:
    """Make the broker's clients and ACLs match the database (idempotent)."""
    try:
        report = TenantService(_setup()).sync_broker()
    except (BrokerUnavailable, BrokerCommandFailed) as exc:
        _fail(exc)
    typer.echo(f"broker in sync: {report.tenants} tenant(s), {report.clients} client(s), "
               f"{report.removed_clients} stale client(s) removed")


@app.command()
def openapi(out: Annotated[Optional[Path], typer.Argument(help="file to write (default: standard output)")] = None) -> None:
    """Print or write the api's OpenAPI document, the wire contract (`make contract` writes contract/openapi.json)."""
    from microdash_api.contract import openapi_document, render

    text = render(openapi_document())
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


@app.command()
def bridge() -> None:
    """Move MQTT messages from the broker onto the ingest queue."""
    from microdash_bridge.bridge import run_bridge

    run_bridge(_setup())


@app.command()
def operator(namespace: Annotated[Optional[list[str]], typer.Option(help="watch only these namespaces (default: all)")] = None,
             liveness: Annotated[Optional[str], typer.Option(help="serve a liveness probe, e.g. http://0.0.0.0:8081/healthz")] = None) -> None:
    """Reconcile Tenant and AlertRule resources (Kubernetes); run exactly one."""
    from microdash_operator.run import run_operator

    run_operator(_setup(), namespaces=namespace, liveness_endpoint=liveness)


@app.command("retire-release")
def retire_release(namespace: Annotated[str, typer.Option(help="the Helm release's namespace")],
                   release: Annotated[str, typer.Option(help="the Helm release's name")],
                   operator_deployment: Annotated[str, typer.Option(help="the operator's Deployment in that namespace")],
                   watch_namespace: Annotated[Optional[list[str]], typer.Option(
                       help="the namespaces the operator watches, as its --namespace (default: all)")] = None,
                   timeout: Annotated[float, typer.Option(help="seconds for the whole retirement")] = 180.0) -> None:
    """Before `helm uninstall` (the chart's pre-delete hook): the operator retires the release's
    Tenants and AlertRules, then stops; every other one loses the operator's finalizer and stays."""
    from microdash_operator.release import ReleaseNotRetired, retire_release as retire

    _setup()
    try:
        outcome = retire(namespace, release, operator_deployment, timeout=timeout, watched=watch_namespace or [])
    except ReleaseNotRetired as exc:
        _fail(exc)
    typer.echo(f"retired: {', '.join(outcome.retired) or 'nothing'}")
    typer.echo(f"left in place without the operator's finalizer: {', '.join(outcome.detached) or 'nothing'}")


@app.command()
def prestart(credentials: Annotated[Path, typer.Option(help="where the demo credentials are kept")] = Path(".run/demo-credentials"),
             secrets: Annotated[Optional[Path], typer.Option(
                 help="generate the secret key (and broker passwords) into this env file on the first start;"
                      " the other processes read it through MICRODASH_ENV_FILE")] = None,
             wait: Annotated[float, typer.Option(help="seconds to wait for the database, and then for the broker")] = 60.0,
             ) -> None:
    """Wait for the database, migrate, and seed the demo tenant (used by `make run` and compose.yaml)."""
    if secrets is not None:  # before the settings are first read, so that they include it
        ensure_secrets_file(secrets)
        os.environ[ENV_FILE_VARIABLE] = str(secrets)
    settings = _setup()
    url = f"http://localhost:{settings.api_port}"
    migrations.wait_for_database(settings, timeout=wait)
    migrations.migrate(settings)
    saved = seed_demo(settings, credentials)
    _sync_broker_when_up(settings, timeout=wait)
    mqtt = TenantService(settings).credentials("demo", saved["token"])
    banner = (f"\n  microdash is starting on {url}\n  login:  {saved['login']} / {saved['password']}\n"
              f"  tenant: demo   token: {saved['token']}\n"
              f"  mqtt:   {settings.mqtt_url}  username {mqtt.mqtt_username}  password {mqtt.mqtt_password}"
              f"  topics {mqtt.topic_prefix}...\n"
              f"  try:    curl -H 'Authorization: Bearer {saved['token']}' -H 'Content-Type: application/json' \\\n"
              f"            -d '{{\"metric\":\"cpu.usage\",\"value\":12.5,\"labels\":{{\"host\":\"n1\"}}}}' {url}/api/v1/metrics\n")
    print(banner, file=sys.stderr, flush=True)


def _sync_broker_when_up(settings, timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            TenantService(settings).sync_broker()
            return
        except BrokerUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _exec(argv: list[str]) -> None:
    os.execvp(argv[0], argv)


@dev_app.command("mariadb")
def dev_mariadb(datadir: Path, port: int,
                redo_log_size: Annotated[str, typer.Option(envvar="MICRODASH_DEV_MARIADB_REDO_LOG_SIZE",
                                                           help="InnoDB redo log size, e.g. 256M")]
                = localstack.MARIADB_REDO_LOG_SIZE,
                ) -> None:
    """Initialise (if needed) and exec a private MariaDB."""
    _exec(localstack.mariadb_argv(datadir, port, redo_log_size=redo_log_size))


@dev_app.command("redis")
def dev_redis(datadir: Path, port: int,
              appendfsync: Annotated[str, typer.Option(envvar="MICRODASH_DEV_REDIS_APPENDFSYNC",
                                                       help="always (an ack means on disk) or everysec")] = "always",
              ) -> None:
    """Exec a private Redis with AOF persistence."""
    _exec(localstack.redis_argv(datadir, port, appendfsync=appendfsync))


@dev_app.command("agent")
def dev_agent(credentials: Annotated[Path, typer.Option(help="written by `microdash prestart`")] = Path(".run/demo-credentials"),
              interval: Annotated[float, typer.Option(envvar="MICRODASH_DEV_AGENT_INTERVAL")] = 10.0,
              wait: float = 120.0) -> None:
    """Exec a local node agent that reports this machine to the demo tenant over MQTT."""
    import time

    settings = get_settings()
    deadline = time.monotonic() + wait
    while not credentials.exists():  # prestart creates the demo tenant and syncs the broker first
        if time.monotonic() > deadline:
            _fail(RuntimeError(f"{credentials} did not appear within {wait} s"))
        time.sleep(0.5)
    time.sleep(1)
    token = dict(line.split("=", 1) for line in credentials.read_text().splitlines() if "=" in line)["token"]
    mqtt = TenantService(settings).credentials("demo", token)
    os.environ["MICRODASH_AGENT_MQTT_PASSWORD"] = mqtt.mqtt_password
    _exec(["microdash-agent", "--tenant", "demo", "--mqtt-url", settings.mqtt_url,
           "--mqtt-username", mqtt.mqtt_username, "--interval", str(interval), "--no-jitter"])


@dev_app.command("mosquitto")
def dev_mosquitto(datadir: Path, port: int) -> None:
    """Initialise (if needed) and exec a private Mosquitto with dynamic security."""
    _exec(localstack.mosquitto_argv(datadir, port, admin_password=get_settings().mqtt_admin_password))


@dev_app.command("secrets")
def dev_secrets(path: Path) -> None:
    """Generate the local stack's secret key and broker passwords into an env file, once."""
    if ensure_secrets_file(path):
        typer.echo(f"generated secrets into {path}", err=True)


if __name__ == "__main__":
    app()
