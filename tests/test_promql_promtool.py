"""The engine against a real Prometheus: promtool evaluates the same synthetic series.

For every expression the engine runs one range query; each of its steps becomes an instant
expectation in a `promtool test rules` file (an instant query at a step's time equals the range
query's point there). promtool's PromQL engine (Prometheus 2.42) then checks them all. It compares
floats exactly, so for each expectation it reports as failed the test reads promtool's own
answer and accepts it only within 1e-9 relative; a different series set or value fails."""

import asyncio
import json
import math
import re
import shutil
import subprocess

import numpy as np

from microdash_core.promql import range_query
from promql_support import LIMITS, InMemorySource, oracle_series

START_MS, END_MS, STEP_MS = 60_000, 2_460_000, 300_000  # the last step is past the last sample
TOLERANCE = 1e-9

EXPRESSIONS = [
    # selectors, matchers, offset, @
    'http_requests_total',
    'http_requests_total{job="api"}',
    'http_requests_total{job!="api"}',
    'http_requests_total{code=~"2.."}',
    'http_requests_total{code!~"2..", job=~"api|web"}',
    '{__name__=~"node_memory_.*", instance="a"}',
    'http_requests_total offset 5m',
    'temp @ 600',
    # range functions
    'rate(http_requests_total[5m])',
    'irate(http_requests_total[5m])',
    'increase(http_requests_total[10m])',
    'rate(http_requests_total[1m] offset 2m)',
    'delta(temp[5m])',
    'idelta(temp[3m])',
    'deriv(temp[10m])',
    'predict_linear(node_memory_MemAvailable_bytes[10m], 600)',
    'avg_over_time(temp[5m])',
    'min_over_time(temp[5m])',
    'max_over_time(temp[5m])',
    'sum_over_time(temp[5m])',
    'count_over_time(http_requests_total[5m])',
    'last_over_time(http_requests_total[10m])',
    'quantile_over_time(0.9, temp[10m])',
    'stddev_over_time(temp[10m])',
    'stdvar_over_time(temp[10m])',
    'changes(temp[5m])',
    'resets(http_requests_total[30m])',
    'absent_over_time(http_requests_total{job="web"}[3m])',
    # aggregations
    'sum by (job) (rate(http_requests_total[5m]))',
    'sum without (instance, code) (rate(http_requests_total[5m]))',
    'avg by (code) (http_requests_total)',
    'min(temp)', 'max by (job) (http_requests_total)', 'count(http_requests_total) by (job)',
    'stddev(temp)', 'stdvar by (mode) (rate(node_cpu_seconds_total[5m]))', 'group by (job) (http_requests_total)',
    'topk(2, http_requests_total)', 'bottomk(1, temp)', 'topk by (job) (1, rate(http_requests_total[5m]))',
    'quantile(0.5, rate(node_cpu_seconds_total[5m]))',
    'count_values("count", count_over_time(http_requests_total[5m]))',
    'sum by (mode) (rate(node_cpu_seconds_total[5m]))',
    # binary operators and vector matching
    '100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)',
    'rate(http_requests_total{code="500"}[5m]) / ignoring(code) rate(http_requests_total{code="200"}[5m])',
    'http_requests_total / on(instance) group_left node_memory_MemTotal_bytes',
    'node_memory_MemTotal_bytes * on(instance) group_right http_requests_total',
    'http_requests_total + on(instance) group_left(job) (node_memory_MemTotal_bytes * 0)',
    'http_requests_total > 300', 'http_requests_total > bool 300', '300 < http_requests_total',
    'temp == bool on(room) temp', 'temp % 3', 'temp ^ 2', '-temp', '2 * 3 + time()',
    'http_requests_total and http_requests_total{instance="a"}',
    'http_requests_total or node_memory_MemTotal_bytes',
    'http_requests_total unless on(instance) node_memory_MemTotal_bytes',
    'sum by (job) (rate(http_requests_total[5m])) > 1',
    # histograms and other functions
    'histogram_quantile(0.9, sum by (le) (rate(req_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.5, rate(req_duration_seconds_bucket[5m]))',
    'histogram_quantile(0.99, sum by (job, le) (rate(req_duration_seconds_bucket[10m])))',
    'abs(delta(temp[5m]))', 'clamp_min(temp, 18)', 'clamp_max(temp, 18)', 'clamp(temp, 16, 22)',
    'round(temp)', 'round(temp, 0.5)', 'ceil(temp)', 'floor(temp)', 'sqrt(temp)', 'exp(temp / 10)', 'ln(temp)',
    'time()', 'vector(1)', 'scalar(sum(node_memory_MemTotal_bytes))', 'timestamp(http_requests_total)',
    'label_replace(http_requests_total, "host", "$1-x", "instance", "(.*)")',
    'label_join(http_requests_total, "id", "/", "job", "instance", "code")',
    'absent(nonexistent{job="x"})', 'absent(http_requests_total{job="web"})',
    'sort_desc(sum by (job) (http_requests_total))',
    # subqueries
    'max_over_time(rate(http_requests_total[5m])[10m:1m])',
    'rate(http_requests_total[5m:30s])',
    'max_over_time(temp[10m:1m] offset 5m)', 'min_over_time(rate(http_requests_total[5m])[15m:2m] @ 1200)',
    'temp offset -1m', 'avg_over_time((temp > 20)[10m:])',
    # edges: short windows, gaps, @ inside a function, on() with a single series
    'rate(http_requests_total[45s])', 'increase(node_cpu_seconds_total[2m])',
    'min_over_time(http_requests_total{job="web"}[2m])', 'changes(http_requests_total[10m])',
    'delta(node_memory_MemAvailable_bytes[15m])', 'rate(http_requests_total[5m] @ 900)',
    'count by (job) (http_requests_total > 100)',
    'http_requests_total{job="api"} - on(instance, code) http_requests_total offset 10m',
    'sum by (job) (rate(http_requests_total[5m])) / on() group_left sum(rate(http_requests_total[5m]))',
    # Prometheus 2.x extras
    'holt_winters(temp[10m], 0.3, 0.6)', 'holt_winters(http_requests_total[5m], 0.5, 0.1)',
    'hour(temp * 3000)', 'minute(http_requests_total * 7)', 'day_of_week(temp * 86400)',
    'day_of_month(temp * 1e6)', 'day_of_year(temp * 1e6)', 'days_in_month(temp * 3e6)', 'month(temp * 1e6)',
    'year(temp * 1e8)', 'hour()', 'year()', 'sgn(delta(temp[5m]))', 'pi() * 2',
]


def _labels_text(labels: dict[str, str]) -> str:
    rest = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()) if k != "__name__")
    return labels.get("__name__", "") + "{" + rest + "}"


def _yaml_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def _expectations(expr: str) -> list[dict]:
    result = asyncio.run(range_query(expr, source=InMemorySource(oracle_series()), start_ms=START_MS,
                                     end_ms=END_MS, step_ms=STEP_MS, limits=LIMITS))
    by_time: dict[int, list[str]] = {t: [] for t in range(START_MS, END_MS + 1, STEP_MS)}
    for s in result.series:
        for t, v in zip(s.timestamps.tolist(), s.values.tolist()):
            labels = f'"labels": {json.dumps(_labels_text(s.labels))}, ' if s.labels else ""
            by_time[t].append("{" + labels + f'"value": {_yaml_float(v)}' + "}")
    return [{"expr": expr, "time": t, "samples": samples} for t, samples in by_time.items()]


def _rules_test_file(cases: list[dict]) -> str:
    lines = ["evaluation_interval: 1m", "tests:", "  - interval: 15s", "    input_series:"]
    for s in oracle_series():
        values = dict(zip(s.timestamps.tolist(), s.values.tolist()))
        expanded = " ".join(repr(values[t]) if t in values else "_"
                            for t in range(0, int(s.timestamps.max()) + 1, 15_000))
        lines.append(f"      - series: {json.dumps(_labels_text(s.labels))}")
        lines.append(f"        values: {json.dumps(expanded)}")
    lines.append("    promql_expr_test:")
    for case in cases:
        lines.append(f"      - expr: {json.dumps(case['expr'])}")
        lines.append(f"        eval_time: {case['time'] // 1000}s")
        lines.append(f"        exp_samples: [{', '.join(case['samples'])}]")
    return "\n".join(lines) + "\n"


_FAILURE = re.compile(r'expr: "(?P<expr>(?:[^"\\]|\\.)*)", time: (?P<time>[^,]+),\s*\n\s*exp: (?P<exp>.*)\n\s*got: (?P<got>.*)')
_SAMPLE = re.compile(r"(\{[^}]*\}) (\S+?)(?:, |$)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _samples(text: str) -> dict[tuple, float]:
    return {tuple(sorted(_LABEL.findall(labels))): float(value.replace("Inf", "inf"))
            for labels, value in _SAMPLE.findall(text.strip())}


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= TOLERANCE * max(abs(a), abs(b))


def _real_mismatches(output: str) -> list[str]:
    found = list(_FAILURE.finditer(output))
    problems = [m.group(0) for m in found
                if _samples(m.group("exp")).keys() != _samples(m.group("got")).keys()
                or not all(_close(v, _samples(m.group("got"))[k]) for k, v in _samples(m.group("exp")).items())]
    return problems, len(found)


def test_promtool_agrees_with_the_engine_on_every_step(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/bootstrap.sh installs Debian's prometheus package"
    cases = [case for expr in EXPRESSIONS for case in _expectations(expr)]
    assert len(EXPRESSIONS) >= 80 and len(cases) == len(EXPRESSIONS) * 9
    assert sum(len(c["samples"]) for c in cases) > 1500  # the comparison is not of empty results
    path = tmp_path / "engine_test.yml"
    path.write_text(_rules_test_file(cases))
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert "err:" not in output and "error" not in output.lower(), output[-4000:]
    problems, reported = _real_mismatches(output)
    assert not problems, "\n".join(problems[:20])
    # promtool either passed outright or every failure it reported was a last-bits difference.
    assert run.returncode == 0 or reported > 0, output[-4000:]


def test_the_mismatch_check_can_fail():
    output = ('  FAILED:\n    expr: "x", time: 1m,\n        exp: {host="a"} 1E+00\n        got: {host="a"} 1.001E+00\n'
              '    expr: "y", time: 1m,\n        exp: {host="a"} NaN\n        got: {host="a"} NaN, {host="b"} 2E+00\n'
              '    expr: "z", time: 1m,\n        exp: {host="a"} 1E+00\n        got: {host="a"} 1.0000000000001E+00\n')
    problems, reported = _real_mismatches(output)
    assert reported == 3 and len(problems) == 2
    assert np.isnan(_samples('{a="b"} NaN')[(("a", "b"),)])
