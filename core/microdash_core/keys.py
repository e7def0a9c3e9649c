"""Every Redis key and channel name microdash uses, in one place."""

PREFIX = "microdash"


def live_stream(tenant_id: int) -> str:
    """Redis Stream of a tenant's freshly stored points (replay window for SSE clients)."""
    return f"{PREFIX}:live:{tenant_id}"


def idempotency(tenant_id: int, key: str) -> str:
    return f"{PREFIX}:idem:{tenant_id}:{key}"


def ingest_rate(tenant_id: int) -> str:
    """A tenant's theoretical arrival time (GCRA, see rate_limit.py), shared by HTTP and MQTT ingest."""
    return f"{PREFIX}:ingest-tat:{tenant_id}"


def tenant_series(tenant_id: int) -> str:
    """Set of the hashes of a tenant's series, for its series limit (see series_limit.py)."""
    return f"{PREFIX}:series:{tenant_id}"


def tenant_series_seed(tenant_id: int, seeder: str) -> str:
    return f"{PREFIX}:series-seed:{tenant_id}:{seeder}"


def ingest_pending(queue_name: str) -> str:
    """Sorted set of the ids of acknowledged batches not yet stored, scored by when they were
    received: its first member is the oldest batch still to store, queued or awaiting a retry."""
    return f"{PREFIX}:ingest-pending:{queue_name}"


def dead_letters(tenant_id: int) -> str:
    """Capped list of what a tenant sent that can never be stored, each entry with its reason."""
    return f"{PREFIX}:dead-letter:{tenant_id}"


def session(session_id: str) -> str:
    return f"{PREFIX}:session:{session_id}"


def user_session_generation(user_id: int) -> str:
    """A counter per dashboard user: a session is valid only while it matches the value the session
    was created with, so incrementing it ends every session of that user at once. Never expires
    (an expired counter would read as 0 and could match sessions created before a revocation)."""
    return f"{PREFIX}:user-sessions:{user_id}"


def login_backoff_by_email(email_digest: str) -> str:
    """Hashes of failed logins and the time before which no login is tried (see login_throttle.py),
    for one email (hashed, so any string is a safe key), one address, and one email from one address."""
    return f"{PREFIX}:login-backoff:email:{email_digest}"


def login_backoff_by_ip(ip: str) -> str:
    return f"{PREFIX}:login-backoff:ip:{ip}"


def login_backoff_by_email_and_ip(email_digest: str, ip: str) -> str:
    return f"{PREFIX}:login-backoff:email-ip:{email_digest}:{ip}"


# Sorted sets of "tenant_id:minute_ms" members scored by the minute: buckets touched by stored
# samples and waiting to be rolled up, and those taken by a rollup run that has not committed yet.
ROLLUP_DIRTY = f"{PREFIX}:rollup:dirty"
ROLLUP_CLAIMED = f"{PREFIX}:rollup:claimed"
ROLLUP_LOCK = f"{PREFIX}:rollup:lock"
# Held by the sealing job while it runs (one run at a time; a second sealer would only wait on locks).
SEAL_LOCK = f"{PREFIX}:seal:lock"
# Held by the compaction job while it runs (one run at a time).
COMPACT_LOCK = f"{PREFIX}:compact:lock"


def reclaim_backoff(table: str) -> str:
    """Present (with a TTL) while the sealing job leaves a table's rebuild alone after a failure."""
    return f"{PREFIX}:reclaim:backoff:{table}"


def reclaim_failures(table: str) -> str:
    """Failed or given-up rebuilds of a table in a row (the backoff doubles with each)."""
    return f"{PREFIX}:reclaim:failures:{table}"

MQTT_DEAD_LETTER = f"{PREFIX}:mqtt:dead-letter"

TELEMETRY_COUNTERS = f"{PREFIX}:telemetry:counters"
TELEMETRY_LAG_BUCKETS = f"{PREFIX}:telemetry:ingest_lag_buckets"
