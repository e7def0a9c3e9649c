"""Statistics, the printed table, the machine description and bench/results/*.json."""

import json
import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    bound: float
    higher_is_better: bool

    def verdict(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        ok = value >= self.bound if self.higher_is_better else value <= self.bound
        return "PASS" if ok else "MISS"

    @property
    def text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.bound:,.0f}"


# Keys of the results (dotted for nested figures) that have a target.
TARGETS = {
    "bulk_ingest_samples_per_s": Target(300_000, higher_is_better=True),  # issue 13 (was 100,000)
    # remote-write must not be slower than JSON bulk: the same bound (compare the two figures too)
    "remote_write_ingest_samples_per_s": Target(100_000, higher_is_better=True),
    "line_protocol_ingest_samples_per_s": Target(100_000, higher_is_better=True),  # the same bound, likewise
    # docs/storage.md: sealed raw samples at no more than 2 bytes each on disk
    "bulk_chunk_bytes_per_sample": Target(2, higher_is_better=False),
    # issue 13's figure: every file of the raw store (head and chunks) after the seal and reclaim
    "bulk_disk_bytes_per_sample": Target(2, higher_is_better=False),
    "single_detail.request_ms_p50": Target(3, higher_is_better=False),  # issue 13
    "ingest_to_sse_ms.p99": Target(15, higher_is_better=False),  # issue 13 (was 50)
    "ingest_to_query_ms.p99": Target(25, higher_is_better=False),  # issue 13 (was 100)
    "mqtt_ingest_samples_per_s": Target(40_000, higher_is_better=True),
    "rollup_samples_per_s": Target(1_000_000, higher_is_better=True),
    "rollup_sealed_samples_per_s": Target(1_000_000, higher_is_better=True),
    "alert_eval_cycle_s": Target(2, higher_is_better=False),
    # issue 13: the native query API over the compressed store
    "query_24h_1m_ms.p50": Target(3, higher_is_better=False),
    "query_24h_1m_ms.p99": Target(10, higher_is_better=False),
    "query_24h_5m_100_series_ms.p50": Target(30, higher_is_better=False),
    "query_24h_5m_100_series_ms.p99": Target(60, higher_is_better=False),
    "query_24h_raw_sealed_ms.p50": Target(5, higher_is_better=False),
    "dashboard_first_chart_ms.p50": Target(1000, higher_is_better=False),
    "dashboard_live_frames.main_thread_ms_per_frame": Target(16, higher_is_better=False),
    "dashboard_bundle_gzip_kb.total": Target(150, higher_is_better=False),
}


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (fraction in 0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def latency_summary(values_ms: list[float], *, sent: int) -> dict:
    return {
        "p50": _round(percentile(values_ms, 0.50)),
        "p95": _round(percentile(values_ms, 0.95)),
        "p99": _round(percentile(values_ms, 0.99)),
        "max": _round(max(values_ms) if values_ms else None),
        "count": len(values_ms),
        "sent": sent,
        "missing": sent - len(values_ms),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def machine_info() -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_mb": _mem_total_mb(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_cpu_ticks() -> dict[str, int]:
    """Machine-wide CPU time counters (clock ticks, all CPUs) from the first line of /proc/stat."""
    try:
        values = Path("/proc/stat").read_text().splitlines()[0].split()[1:1 + len(PROC_STAT_FIELDS)]
    except OSError:
        return {}
    return dict(zip(PROC_STAT_FIELDS, map(int, values)))


def machine_cpu_share(before: dict[str, int], after: dict[str, int], own_cpu_s: float) -> dict:
    """How the machine's CPU time was spent between two snapshots, in percent of all CPUs.

    `others` is busy time not accounted for by the stack and the bench client (`own_cpu_s`):
    other jobs on the machine, i.e. the noise in the figures.
    """
    if not before or not after:
        return {}
    delta = {name: after[name] - before[name] for name in PROC_STAT_FIELDS}
    total = sum(delta.values()) or 1
    busy = total - delta["idle"] - delta["iowait"]
    own_ticks = own_cpu_s * os.sysconf("SC_CLK_TCK")
    return {
        "busy_pct": round(100 * busy / total, 1),
        "iowait_pct": round(100 * delta["iowait"] / total, 1),
        "steal_pct": round(100 * delta["steal"] / total, 1),
        "others_pct": round(max(0.0, 100 * (busy - own_ticks) / total), 1),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _mem_total_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def lookup(results: dict, dotted: str):
    value = results
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def table_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, verdict) rows for the printed table."""
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, key: str, unit: str, fmt: str = "{:,.0f}") -> None:
        value = lookup(results, key)
        target = TARGETS.get(key)
        shown = "n/a" if value is None else fmt.format(value) + f" {unit}"
        rows.append((label, shown, target.text + f" {unit}" if target else "", target.verdict(value) if target else ""))

    add("bulk ingest, durable in MariaDB", "bulk_ingest_samples_per_s", "samples/s")
    add("bulk ingest, accepted by API (202)", "bulk_accept_samples_per_s", "samples/s")
    add("bulk load on disk in the head (log), before sealing", "bulk_disk_bytes_per_sample_rows", "B/sample", "{:,.2f}")
    add("bulk load sealed: chunk table on disk", "bulk_chunk_bytes_per_sample", "B/sample", "{:,.2f}")
    add("bulk load sealed: chunks + emptied head files", "bulk_disk_bytes_per_sample_sealed", "B/sample", "{:,.2f}")
    add("bulk load sealed, head reclaimed: all raw files", "bulk_disk_bytes_per_sample", "B/sample", "{:,.2f}")
    add("  of which empty partitions' files", "reclaim_detail.empty_partitions_bytes_per_sample", "B/sample",
        "{:,.2f}")
    add("head reclaim (online rebuild), wall", "reclaim_detail.wall_s", "s", "{:,.2f}")
    add("head reclaim, MariaDB CPU", "reclaim_detail.cpu_s.mariadb", "s", "{:,.2f}")
    add("compaction + sealing throughput, one process", "bulk_seal_samples_per_s", "samples/s")
    add("compaction + sealing CPU of that process", "seal_detail.sealer_cpu_us_per_sample", "us/sample", "{:,.2f}")
    add("bulk ingest, tenant with a series limit, durable", "bulk_limited_ingest_samples_per_s", "samples/s")
    add("bulk ingest, tenant with a series limit, accepted", "bulk_limited_accept_samples_per_s", "samples/s")
    add("remote-write ingest (same load), durable", "remote_write_ingest_samples_per_s", "samples/s")
    add("remote-write ingest (same load), accepted (204)", "remote_write_accept_samples_per_s", "samples/s")
    add("line protocol ingest (same load), durable", "line_protocol_ingest_samples_per_s", "samples/s")
    add("line protocol ingest (same load), accepted (204)", "line_protocol_accept_samples_per_s", "samples/s")
    add("single-sample POSTs accepted", "single_ingest_requests_per_s", "req/s")
    add("single-sample POSTs durable", "single_ingest_durable_requests_per_s", "req/s")
    add("single-sample POST, time to 202, p50", "single_detail.request_ms_p50", "ms", "{:,.1f}")
    add("single-sample POST, Redis commands per request (all clients)", "single_detail.redis_commands_per_request",
        "cmds", "{:,.1f}")
    for stat in ("p50", "p95", "p99"):
        add(f"ingest -> SSE {stat}", f"ingest_to_sse_ms.{stat}", "ms", "{:,.1f}")
    for stat in ("p50", "p99"):
        add(f"ingest -> queryable {stat}", f"ingest_to_query_ms.{stat}", "ms", "{:,.1f}")
    add("MQTT ingest (1 sample/message), durable", "mqtt_ingest_samples_per_s", "samples/s")
    add("MQTT ingest, durable, after the fleet's connect", "mqtt_detail.durable_after_connect_samples_per_s",
        "samples/s")
    add("rollup of raw samples (1m + 5m)", "rollup_samples_per_s", "samples/s")
    add("rollup of raw samples, day sealed into chunks", "rollup_sealed_samples_per_s", "samples/s")
    for stat in ("p50", "p99"):
        add(f"query 24 h, 1 series, 1m {stat}", f"query_24h_1m_ms.{stat}", "ms", "{:,.1f}")
        add(f"query 24 h, 100 series, 5m {stat}", f"query_24h_5m_100_series_ms.{stat}", "ms", "{:,.1f}")
        add(f"query 24 h, 1 series raw (8,640 points), all in the head {stat}", f"query_24h_raw_head_ms.{stat}", "ms",
            "{:,.1f}")
        add(f"query 24 h, 1 series raw (8,640 points), sealed {stat}", f"query_24h_raw_sealed_ms.{stat}", "ms",
            "{:,.1f}")
    for case, key in (("1 series, 1m", "query_24h_1m_ms"), ("100 series, 5m", "query_24h_5m_100_series_ms"),
                      ("1 series raw, sealed", "query_24h_raw_sealed_ms")):
        add(f"query 24 h, {case}: api CPU per query", f"{key}.cpu_ms_per_query.api", "ms", "{:,.2f}")
    for stat in ("p50", "p99"):
        add(f"PromQL sum by (host) (rate[5m]), 24 h x 100 series, step 60 s {stat}",
            f"promql_24h_100_series_step60_ms.{stat}", "ms", "{:,.1f}")
        add(f"PromQL same, step 30 s (raw samples) {stat}", f"promql_24h_100_series_step30_raw_ms.{stat}", "ms",
            "{:,.1f}")
        add(f"/prometheus/api/v1/series, all of 10,000 series {stat}", f"promql_series_10k_all_ms.{stat}", "ms",
            "{:,.1f}")
        add(f"/prometheus/api/v1/series, regex, 100 of 10,000 {stat}", f"promql_series_10k_regex_ms.{stat}", "ms",
            "{:,.1f}")
    add("alert evaluation, 10k rules / 100 tenants", "alert_eval_rules_per_s", "rules/s")
    add("alert evaluation, one full cycle", "alert_eval_cycle_s", "s", "{:,.2f}")
    add("alert evaluation in PromQL, 10k rules / 100 tenants", "alert_eval_promql_rules_per_s", "rules/s")
    add("alert evaluation in PromQL, one full cycle", "alert_eval_promql_cycle_s", "s", "{:,.2f}")
    add("agent steady RSS", "agent_footprint.agent_rss_mb", "MB", "{:,.1f}")
    add("node_exporter steady RSS", "agent_footprint.node_exporter_rss_mb", "MB", "{:,.1f}")
    add("agent CPU per collection", "agent_footprint.agent_cpu_ms_per_cycle", "ms", "{:,.2f}")
    add("node_exporter CPU per scrape", "agent_footprint.node_exporter_cpu_ms_per_scrape", "ms", "{:,.2f}")
    add("dashboard: first chart, 24 h x 20 series, p50", "dashboard_first_chart_ms.p50", "ms", "{:,.0f}")
    add("dashboard: first chart, max of the loads", "dashboard_first_chart_ms.max", "ms", "{:,.0f}")
    add("dashboard: main-thread time per frame, 20 live series", "dashboard_live_frames.main_thread_ms_per_frame",
        "ms", "{:,.2f}")
    add("dashboard: mean frame interval (60 Hz = 16.7)", "dashboard_live_frames.mean_interval_ms", "ms", "{:,.2f}")
    add("dashboard: p99 frame interval", "dashboard_live_frames.p99_interval_ms", "ms", "{:,.2f}")
    add("dashboard: app bundle, gzipped (no fonts)", "dashboard_bundle_gzip_kb.total", "KB", "{:,.1f}")
    add("operator: Tenant created -> working token, p50", "operator.tenant_to_working_token_ms.p50", "ms", "{:,.0f}")
    add("operator: Tenant created -> working token, max", "operator.tenant_to_working_token_ms.max", "ms", "{:,.0f}")
    add("operator: Tenants created at once, all Ready after", "operator.reconcile_at_once.seconds", "s", "{:,.1f}")
    add("cluster: cold image build (empty podman storage)", "cluster.image_build_cold_s", "s", "{:,.0f}")
    add("cluster: image build, unchanged tree", "cluster.image_build_cached_s", "s", "{:,.0f}")
    add("cluster: node start from cache", "cluster.start_from_cache_s", "s", "{:,.0f}")
    add("cluster: helm install --wait, default values", "cluster.helm_install_wait_s", "s", "{:,.0f}")
    add("cluster: helm install until the agent is Ready", "cluster.helm_install_until_agent_ready_s", "s", "{:,.0f}")
    add("cluster: Tenant apply -> first sample queryable", "cluster.tenant_apply_to_first_sample_s", "s", "{:,.1f}")
    add("cluster: all pods' memory at rest", "cluster.pod_memory_mib_total", "MiB", "{:,.0f}")
    add("api peak RSS", "api_peak_rss_mb", "MB", "{:,.1f}")
    add("bridge peak RSS", "bridge_peak_rss_mb", "MB", "{:,.1f}")
    add("worker peak RSS (max)", "worker_peak_rss_mb", "MB", "{:,.1f}")
    add("redis peak memory", "redis_peak_memory_mb", "MB", "{:,.1f}")
    return rows


def format_table(results: dict) -> str:
    rows = [("measure", "value", "target", "")] + table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i != 1 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_context(results: dict) -> str:
    config, machine = results.get("config", {}), results.get("machine", {})
    lines = [f"machine: {machine.get('nproc')} CPU(s) ({machine.get('cpu_model')}), load average at start "
             f"{machine.get('loadavg_at_start')}; workers: {config.get('workers')}; "
             f"bulk samples: {config.get('bulk_samples'):,}"]
    for key, what in (("ingest_to_sse_ms", "SSE probes received"), ("ingest_to_query_ms", "query probes found")):
        summary = results.get(key)
        if summary:
            lines.append(f"{what}: {summary['count']}/{summary['sent']}")
    shares = results.get("machine_cpu_pct") or {}
    if shares:
        lines.append("machine CPU during each scenario (busy / iowait / used by other jobs, % of all CPUs): " + "; ".join(
            f"{name} {share.get('busy_pct')}/{share.get('iowait_pct')}/{share.get('others_pct')}"
            for name, share in shares.items()))
    memory = (results.get("cluster") or {}).get("pod_memory_mib")
    if memory:
        lines.append("cluster pods' memory at rest (working set, MiB): " + "; ".join(
            f"{component} {'/'.join(f'{mib:.0f}' for mib in values)}" for component, values in memory.items()))
    lines.append(f"Figures are noisy: the load generator, api, workers, MariaDB and Redis share the same "
                 f"{machine.get('nproc')} CPU(s), and other jobs on the machine add to that.")
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
