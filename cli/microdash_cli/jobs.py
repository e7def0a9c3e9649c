"""`microdash jobs`: inspect and requeue failed (poison) batches."""

from typing import Annotated

import redis
import typer
from rq.registry import FailedJobRegistry

from microdash_core.queues import ingest_queue
from microdash_core.settings import get_settings

app = typer.Typer(help="Inspect the ingest queue's failed jobs", no_args_is_help=True)


def _registry() -> FailedJobRegistry:
    settings = get_settings()
    return FailedJobRegistry(queue=ingest_queue(redis.Redis.from_url(settings.redis_url), settings))


@app.command("failed")
def failed(limit: Annotated[int, typer.Option()] = 50) -> None:
    """List failed jobs with the reason they failed."""
    registry = _registry()
    job_ids = registry.get_job_ids()
    typer.echo(f"{len(job_ids)} failed job(s)")
    for job in registry.get_queue().job_class.fetch_many(job_ids[:limit], connection=registry.connection):
        if job is None:
            continue
        reason = (job.latest_result().exc_string if job.latest_result() else "") or ""
        last_line = reason.strip().splitlines()[-1] if reason.strip() else "(no reason recorded)"
        typer.echo(f"{job.id}\t{job.description}\t{last_line}")


@app.command("requeue")
def requeue(job_id: str) -> None:
    """Put a failed job back on the queue (after fixing what made it fail)."""
    _registry().requeue(job_id)
    typer.echo(f"requeued {job_id}")
