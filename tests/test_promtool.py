"""promtool (Debian's prometheus 2.42) queries microdash's /prometheus API. promtool 2.42 has no
--http.config.file for `query`, so the token travels as the password of the URL's user info,
which Go's HTTP client sends as Basic authentication (docs/promql.md)."""

import subprocess
from urllib.parse import urlsplit

import pytest

from support import recent_ms


@pytest.fixture(scope="module")
def server(stack) -> tuple[str, int]:
    """A tenant with two series of `door_open` (one sample every 10 s for the last 10 minutes),
    and the base URL promtool takes, credentials included."""
    tenant, token = stack.new_tenant("promtool")
    end = recent_ms(-2_000) // 1000 * 1000
    samples = [{"metric": "door_open", "value": float(i % 2), "ts": end - i * 10_000, "labels": {"room": room}}
               for i in range(60) for room in ("hall", "garage")]
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=samples).status_code == 202
    assert stack.wait_for_samples(tenant.id, len(samples)) == len(samples)
    address = urlsplit(stack.api_url).netloc
    return f"http://{tenant.name}:{token}@{address}/prometheus", end


def promtool(*args: str) -> str:
    done = subprocess.run(["promtool", "query", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_promtool_query_instant(server):
    url, end = server
    output = promtool("instant", f"--time={end / 1000:.3f}", url, "sum by (room) (door_open)")
    assert sorted(output.strip().splitlines()) == [f'{{room="garage"}} => 0 @[{end // 1000}]',
                                                  f'{{room="hall"}} => 0 @[{end // 1000}]']


def test_promtool_query_range(server):
    url, end = server
    output = promtool("range", f"--start={(end - 60_000) / 1000:.3f}", f"--end={end / 1000:.3f}", "--step=30s",
                      url, 'door_open{room="hall"}')
    assert output.startswith('door_open{room="hall"} =>\n'), output
    assert output.count(" @[") == 3, output


def test_promtool_query_series_and_labels(server):
    url, _ = server
    series = promtool("series", "--match=door_open", "--match={room=\"hall\"}", url)
    assert sorted(series.strip().splitlines()) == ['{__name__="door_open", room="garage"}',
                                                   '{__name__="door_open", room="hall"}']
    assert promtool("labels", url, "room").strip().splitlines() == ["garage", "hall"]
    assert promtool("labels", url, "__name__").strip().splitlines() == ["door_open"]


def test_promtool_with_a_wrong_token_fails(server):
    url, _ = server
    wrong = url.replace(url.split("@")[0].split(":")[-1], "mdt_wrong")
    done = subprocess.run(["promtool", "query", "labels", wrong, "room"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "unauthorized" in (done.stderr + done.stdout).lower()
