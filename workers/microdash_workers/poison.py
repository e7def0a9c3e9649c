"""Storing a batch whatever a few of its samples hold: a batch the database refuses for its data
is split in halves, recursively, until every good sample is stored and each refused one stands
alone, with the database's reason. One bad sample costs about 2 log2(n) attempts, not the batch.

Only data errors split a batch. An outage (lost connection, lock timeouts, a missing partition)
is raised whole, and the job is retried later: storing is idempotent, so the parts already
stored are simply written again."""

import math
from dataclasses import dataclass, field

import pymysql

from microdash_core.batches import QueuedSample

from .storage import SampleStore

# Refusals of this data by this schema: retrying cannot help.
DATA_ERRORS = (pymysql.err.DataError, pymysql.err.IntegrityError)
ER_NO_REFERENCED_ROW_2 = 1452  # the tenant's row is gone: the batch of a deleted tenant


@dataclass
class Refused:
    sample: QueuedSample
    reason: str


@dataclass
class Outcome:
    stored: list[QueuedSample] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def store_isolating_poison(store: SampleStore, tenant_id: int, samples: list[QueuedSample], *,
                           typed: bool = False) -> Outcome:
    """typed: the samples were decoded into (str, str, int, float) already (Batch.typed), so only
    their values remain to check."""
    outcome = Outcome()
    if typed and _all_finite([sample[3] for sample in samples]):
        well_formed = samples
    else:
        well_formed = []
        for sample in samples:
            reason = malformation(sample)
            if reason is None:
                well_formed.append(sample)
            else:
                outcome.refused.append(Refused(sample, reason))
    parts = [well_formed] if well_formed else []
    while parts:
        part = parts.pop()
        try:
            store.store(tenant_id=tenant_id, samples=part)
        except DATA_ERRORS as exc:
            if len(part) == 1 or exc.args[0] == ER_NO_REFERENCED_ROW_2:
                outcome.refused.extend(Refused(sample, _reason(exc)) for sample in part)
            else:
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]  # the first half next: stored order is kept
            continue
        outcome.stored.extend(part)
    return outcome


def malformation(sample: object) -> str | None:
    """Why a queued sample is not the (metric, canonical labels JSON, ts, value) an edge queues, or None.

    The edges validate fully; this only keeps a batch put on the queue some other way from
    reaching SQL, where ts and value are formatted as literals."""
    try:
        metric, labels, ts, value = sample  # type: ignore[misc]
    except (TypeError, ValueError):
        return "malformed sample: expected [metric, labels, ts, value]"
    if type(metric) is not str or type(labels) is not str or type(ts) is not int:
        return "malformed sample: metric, labels or ts of the wrong type"
    if type(value) is not float or value - value != 0.0:
        return "malformed sample: value must be a finite float"
    return None


def _all_finite(values: list[float]) -> bool:
    """True only if no value is infinite or NaN (either makes the sum so); an overflowing sum of
    finite values answers False, and the caller then checks them one by one."""
    try:
        return math.isfinite(math.fsum(values))
    except (OverflowError, ValueError):
        return False


def _reason(exc: pymysql.err.MySQLError) -> str:
    code, message = (exc.args + ("",))[:2]
    if code == ER_NO_REFERENCED_ROW_2:
        return "the tenant no longer exists"
    return f"refused by the database ({code}): {str(message)[:300]}"
