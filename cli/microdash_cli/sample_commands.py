"""`microdash samples export`: a tenant's raw samples of one metric as stored (sealed chunks and
the head, read through store.reads as the api reads them), one JSON sample per line in the ingest
format, so the output can be POSTed back to /api/v1/metrics/bulk. For operators who need to see
what a tenant has, and for the cluster tests, which read through the product, never the tables."""

from typing import Annotated

import orjson
import typer

from microdash_core import chunks, db, series_lookup
from microdash_core.bounds import MAX_EPOCH_MS
from microdash_core.errors import MicrodashError
from microdash_core.samples import METRIC_NAME
from microdash_core.settings import get_settings
from microdash_core.store import reads
from microdash_core.tenants import directory

app = typer.Typer(help="Read stored samples", no_args_is_help=True)
MAX_METRIC_LENGTH = 200
MAX_SAMPLES = 10_000_000


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(1)


@app.command("export")
def export(tenant: str, metric: str,
           start: Annotated[int, typer.Option(help="epoch ms, inclusive", min=0, max=MAX_EPOCH_MS)] = 0,
           end: Annotated[int, typer.Option(help="epoch ms, inclusive", min=0, max=MAX_EPOCH_MS)] = MAX_EPOCH_MS,
           limit: Annotated[int, typer.Option(help="refuse a read of more samples than this", min=1,
                                              max=MAX_SAMPLES)] = 1_000_000) -> None:
    """Print TENANT's samples of METRIC (every series of it), one JSON object per line."""
    if len(metric) > MAX_METRIC_LENGTH or not METRIC_NAME.fullmatch(metric):
        _fail(f"metric must match [a-zA-Z_:][a-zA-Z0-9_:.]* (at most {MAX_METRIC_LENGTH} characters)")
    if end < start:
        _fail("--end is before --start")
    try:
        with db.transaction(get_settings()) as cursor:
            tenant_id = directory.get_tenant(cursor, name=tenant).id
            labels_of = {series_id: labels for series_id, (_metric, labels)
                         in series_lookup.find_series(cursor, tenant_id=tenant_id, metrics=[metric]).items()}
            found = _read(cursor, tenant_id, sorted(labels_of), reads.Span(start, end), limit)
    except (MicrodashError, chunks.ChunkError) as exc:
        _fail(str(exc))
    for series_id, (timestamps, values) in sorted(found.items()):
        labels = labels_of[series_id]
        for ts, value in zip(timestamps.tolist(), values.tolist()):
            typer.echo(orjson.dumps({"metric": metric, "value": value, "ts": ts, "labels": labels}))


def _read(cursor, tenant_id: int, series_ids: list[int], span: reads.Span, limit: int) -> dict[int, reads.Arrays]:
    if not series_ids:
        return {}
    cursor.execute(*reads.count_statement(tenant_id=tenant_id, series_ids=series_ids, span=span))
    counted = int(cursor.fetchone()[0] or 0)
    if counted > limit:
        _fail(f"{counted} samples (a sealed chunk counts whole) exceed --limit {limit}; narrow --start/--end")
    return reads.read_series(cursor, tenant_id=tenant_id, series_ids=series_ids, span=span, counted=counted)
