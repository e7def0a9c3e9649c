"""The one settings object: every option is an environment variable prefixed ``MICRODASH_``."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, PositiveInt, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-change-me"
DEVELOPMENT_MQTT_ADMIN_PASSWORD = "microdash-dev"
DEVELOPMENT_MQTT_BRIDGE_PASSWORD = "microdash-bridge-dev"
ENV_FILE_VARIABLE = "MICRODASH_ENV_FILE"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MICRODASH_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    secret_key: str = DEVELOPMENT_SECRET

    database_url: str = "mysql://root@127.0.0.1:13306/microdash"
    redis_url: str = "redis://127.0.0.1:16379/0"
    mqtt_url: str = "mqtt://127.0.0.1:11883"
    mqtt_admin_username: str = "microdash-admin"
    mqtt_admin_password: str = DEVELOPMENT_MQTT_ADMIN_PASSWORD
    mqtt_bridge_password: str = DEVELOPMENT_MQTT_BRIDGE_PASSWORD
    mqtt_topic_root: str = "microdash"

    api_host: str = "127.0.0.1"
    api_port: int = 8080
    metrics_port: int | None = Field(None, ge=1, le=65535,
                                     description="serve /metrics on this port only (and nothing else there)")
    forwarded_allow_ips: str | None = Field(
        None, description="addresses whose X-Forwarded-For/-Proto the api believes ('*' for any);"
                          " default: uvicorn's FORWARDED_ALLOW_IPS, else 127.0.0.1")
    trusted_proxy_hops: int = Field(
        0, ge=0, le=10, description="proxies in front of the api that append to X-Forwarded-For; the client address"
                                    " is taken this many entries from the right (0: forwarded_allow_ips decides)")
    max_request_body_bytes: int = Field(256 * 1024, ge=1024, description="every route but ingest (max_body_bytes)")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Ingest limits
    max_bulk_samples: int = Field(10_000, ge=1)
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_remote_write_decompressed_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="a remote-write body's snappy-declared size, checked before"
                                               " decompressing (413 above)")
    max_labels: int = Field(32, ge=0)
    # Names are ASCII by their charset, so their lengths are bytes too. The bounds stop at what the
    # series table holds (metric VARCHAR(200), labels TEXT of 65535 bytes): anything the edge accepts
    # must be storable, or the worker would hold a batch it can never write.
    max_metric_name_length: int = Field(200, ge=1, le=200)
    max_label_name_length: int = Field(100, ge=1, le=1000)
    max_label_value_length: int = Field(1024, ge=1, le=65535, description="bytes of a label value in UTF-8")
    max_label_set_bytes: int = Field(65535, ge=64, le=65535,
                                     description="bytes of a sample's label set as stored (canonical JSON, UTF-8)")
    max_sample_age_seconds: int = Field(7 * 24 * 3600, ge=60)
    max_sample_future_seconds: int = Field(600, ge=0)
    default_ingest_rate_limit: int = Field(100_000, ge=1, description="samples/s per tenant")
    ingest_rate_burst_seconds: float = Field(
        1.0, gt=0, le=3600, description="a tenant may send this many seconds' worth of its rate at once")
    idempotency_ttl_seconds: int = 24 * 3600
    token_cache_seconds: float = Field(5.0, ge=0)

    # Dashboard sessions and the built frontend
    session_ttl_seconds: int = Field(12 * 3600, ge=60)
    login_failure_window_seconds: int = Field(15 * 60, ge=1, description="failures are forgotten after this long")
    login_free_failures_per_email_and_ip: int = Field(5, ge=0, description="before one address backs off on one email")
    login_free_failures_per_ip: int = Field(20, ge=0, description="before an address backs off on every email")
    login_free_failures_per_email: int = Field(100, ge=0, description="before an email backs off from every address")
    login_backoff_base_seconds: float = Field(1.0, gt=0, description="the first delay; each failure doubles it")
    login_backoff_max_seconds: float = Field(15 * 60, gt=0)
    login_max_concurrent_verifications: int = Field(
        1, ge=1, description="password checks at once per api process (argon2id holds 64 MiB each)")
    login_verification_wait_seconds: float = Field(
        5.0, ge=0, description="a login waits this long for a free check, then gets 503")
    frontend_dir: Path | None = Field(None, description="built dashboard (frontend/dist); default: the repo's")

    # Queue and worker
    ingest_queue: str = "ingest"
    scheduled_queue: str = Field("scheduled", description="rollups, retention, partitions, alert evaluation")
    ingest_job_timeout_seconds: int = Field(30, ge=1)
    ingest_orphan_after_seconds: int = Field(
        300, ge=1, description="a batch pending this long that RQ holds in no queue or registry is queued again")
    ingest_retry_intervals: list[PositiveInt] = Field(
        [1, 5, 15, 30, 60], min_length=1,
        description="seconds between attempts of a batch that failed on an outage; the last repeats for ever")
    ingest_queue_high_water: int = Field(
        10_000, ge=1, description="batches waiting (queued or awaiting a retry) from which ingest answers 503"
                                  " with Retry-After and the MQTT bridge stops acknowledging")
    ingest_redis_memory_high_water: float = Field(
        0.8, gt=0, le=1, description="share of Redis' maxmemory from which ingest is held back the same way, so"
                                     " that Redis never fills up (noeviction would then refuse the workers too)")
    worker_maintenance_interval_seconds: int = Field(60, ge=1)
    worker_ttl_seconds: int = Field(60, ge=16, description="worker liveness TTL; an idle worker wakes every TTL-15 s")
    series_cache_size: int = Field(200_000, ge=1000)

    # Live stream
    live_stream_maxlen: int = Field(1_000, ge=10, description="entries (stored batches) kept per tenant for replay")
    live_stream_window_seconds: int = Field(300, ge=5, description="age limit of the replay window")
    sse_client_queue_size: int = Field(1000, ge=10)
    sse_ping_seconds: int = Field(15, ge=1)

    # MQTT bridge
    bridge_batch_max_samples: int = Field(5_000, ge=1)
    bridge_batch_max_wait_ms: int = Field(20, ge=0)
    bridge_max_payload_bytes: int = Field(1024 * 1024, ge=64)
    bridge_client_id: str = Field("", description="stable per replica; default: bridge-<hostname>")
    bridge_stop_timeout_seconds: float = Field(
        20.0, gt=0, le=3600, description="on SIGTERM, how long the bridge may take to enqueue and acknowledge what it"
                                         " holds; the chart derives the pod's grace period from it")
    bridge_shared_subscription: bool = Field(
        False, description="replicas share the messages ($share); needed above one replica, but Mosquitto 2.0"
                           " drops what is published right after a broker restart until a bridge resubscribes")

    # Storage
    partition_days_ahead: int = Field(
        2, ge=1, description="daily partitions created ahead of today; the hourly upkeep makes 2 a day's margin")
    # Sealing: windows that are over move from the head (samples) into chunks (docs/storage.md)
    seal_interval_seconds: int = Field(60, ge=1, description="how often the sealing job runs")
    seal_grace_seconds: int = Field(
        600, ge=0, le=7 * 24 * 3600, description="a 2 h window is sealed this long after it ends; later samples"
                                                 " for it wait in the head and are merged by the next seal")
    seal_batch_series: int = Field(500, ge=1, le=5000, description="series of one tenant and window per seal transaction")
    seal_time_budget_seconds: float = Field(30.0, gt=0, description="a sealing job stops taking batches after this")
    # Reclaiming: after a run that sealed everything due, a head table whose files hold much more
    # free space than rows is rebuilt online to give the space back (docs/storage.md)
    reclaim_enabled: bool = Field(True, description="rebuild head tables whose free space is worth it after sealing")
    reclaim_backoff_seconds: int = Field(600, ge=0, le=24 * 3600, description="a table whose rebuild gave up or failed"
                                                                           " is left alone this long, doubled for each"
                                                                           " further failure in a row (0: no wait)")
    reclaim_backoff_max_seconds: int = Field(6 * 3600, ge=0, le=7 * 24 * 3600,
                                             description="the longest the backoff grows to")
    reclaim_min_free_bytes: int = Field(32 * 1024 * 1024, ge=0, description="free bytes a head table must hold"
                                                                            " (all partitions) to be rebuilt")
    reclaim_min_free_ratio: float = Field(1.0, ge=0, description="and free bytes at least this times what its rows"
                                                                 " and indexes take: the rebuild's work is bounded"
                                                                 " by the space it returns")
    reclaim_lock_wait_seconds: int = Field(1, ge=1, le=60, description="longest wait for the table's metadata lock"
                                                                      " (ingest queues behind it meanwhile)")
    # Compaction: the head's log (a row per stored batch and series bucket) folds into level-0
    # chunk parts. A series' samples wait in the log until it has a few (parts of one sample each
    # would cost more than rows) or they are old enough; every read of recent time decodes its
    # series' buckets of the log, so its age and size are bounded (docs/storage.md)
    compact_interval_seconds: int = Field(10, ge=1, le=3600, description="how often the compaction job runs")
    compact_batch_rows: int = Field(12_800, ge=1, le=640_000, description="log rows of one tenant per compaction"
                                                                          " transaction (a stored batch is up to 64)")
    compact_time_budget_seconds: float = Field(30.0, gt=0, description="a compaction job stops taking batches after this")
    compact_min_samples: int = Field(64, ge=1, le=1_000_000, description="a series' samples leave the log once a"
                                                                         " batch holds this many of them")
    compact_max_age_seconds: float = Field(60.0, ge=0, le=3600, description="or once one of them has been in the"
                                                                            " log this long")
    compact_max_log_samples: int = Field(1_000_000, ge=1, le=100_000_000, description="a batch this large flushes every"
                                                                                      " series (bounds what a read of"
                                                                                      " recent time decodes)")

    # Rollups and retention
    rollup_grace_seconds: int = Field(10, ge=0, description="wait after a minute closes before rolling it up")
    rollup_claim_buckets: int = Field(5_000, ge=1, description="dirty (tenant, minute) buckets taken per round")
    rollup_time_budget_seconds: float = Field(10.0, gt=0, description="a rollup job stops taking rounds after this")
    retention_raw_days: int = Field(7, ge=1)
    retention_1m_days: int = Field(30, ge=1)
    retention_5m_days: int = Field(400, ge=1)
    retention_delete_chunk: int = Field(10_000, ge=1, description="rows per bounded DELETE of a short-retention tenant")

    # Native query API (/api/v1/query)
    query_max_raw_samples: int = Field(5_000_000, ge=1000,
                                       description="raw samples one query may load; more answers 422 (use a rollup)")

    # Prometheus query API (PromQL)
    promql_max_series: int = Field(10_000, ge=1, description="series one query (or one /series call) may touch")
    promql_max_samples: int = Field(5_000_000, ge=1000, description="samples one query may load from storage")
    promql_max_points: int = Field(5_000_000, ge=1000,
                                   description="points the engine may hold for one query (its steps x series)")
    promql_timeout_seconds: float = Field(30.0, gt=0, le=600, description="a query still running then answers 503")
    promql_lookback_delta_seconds: int = Field(300, ge=1, le=86_400,
                                               description="how far back an instant selector looks for a sample")

    # Alerting and notifications
    alert_eval_interval_seconds: int = Field(15, ge=1, description="how often every tenant's rules are evaluated")
    alert_repeat_interval_seconds: int = Field(3600, ge=1, description="re-notify a still-firing alert this often")
    alert_expr_max_series: int = Field(10_000, ge=1, description="series one PromQL rule's evaluation may touch")
    alert_expr_max_samples: int = Field(1_000_000, ge=1000,
                                        description="samples (and engine points) one PromQL rule's evaluation may load")
    alert_expr_timeout_seconds: float = Field(10.0, gt=0, le=600,
                                              description="a PromQL rule still evaluating then is skipped this time")
    notify_queue: str = "notify"
    notify_max_attempts: int = Field(5, ge=1, description="delivery attempts before a notification is failed")
    notify_retry_base_seconds: int = Field(2, ge=1, description="backoff before retry n is base * 2**(n-1)")
    notify_timeout_seconds: float = Field(10.0, gt=0, description="per attempt (HTTP request, SMTP session)")
    notify_allowed_cidrs: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        [], description="comma-separated networks that channels may reach although internal (on-prem receivers)")

    # Kubernetes operator
    operator_resync_seconds: float = Field(60, gt=0, description="every resource is re-checked (drift repair) this often")
    operator_status_seconds: float = Field(15, gt=0, description="how often AlertRule statuses are refreshed")
    operator_retry_seconds: float = Field(10, gt=0, description="delay before a failed reconcile is retried")

    @field_validator("notify_allowed_cidrs", mode="before")
    @classmethod
    def _split_cidrs(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> "Settings":
        if self.environment == "production":
            defaults = {"MICRODASH_SECRET_KEY": (self.secret_key, DEVELOPMENT_SECRET),
                        "MICRODASH_MQTT_ADMIN_PASSWORD": (self.mqtt_admin_password, DEVELOPMENT_MQTT_ADMIN_PASSWORD),
                        "MICRODASH_MQTT_BRIDGE_PASSWORD": (self.mqtt_bridge_password, DEVELOPMENT_MQTT_BRIDGE_PASSWORD)}
            unset = [name for name, (value, default) in defaults.items() if value == default]
            if unset:
                raise ValueError(f"{', '.join(unset)} must be set when MICRODASH_ENVIRONMENT=production")
        return self


@lru_cache
def get_settings() -> Settings:
    # An env file (`make run` generates its secrets into one) ranks below the real environment.
    return Settings(_env_file=os.environ.get(ENV_FILE_VARIABLE))
