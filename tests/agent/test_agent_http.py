"""The HTTP transport against a local server: 202 acknowledges, 429/5xx/no answer retry, 4xx drops."""

import json
import os
import subprocess
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_sample_rules import assert_valid_samples
from conftest import free_port

from microdash_agent.buffer import SampleBuffer
from microdash_agent.collectors import Point
from microdash_agent.samples import SampleEncoder
from microdash_agent.shipper import Shipper
from microdash_agent.transport import Outcome
from microdash_agent.transport.http import HttpTransport, outcome_for_status


class BulkApi(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), BulkHandler)
        self.statuses: deque[int] = deque()  # answers to give, in order; 202 once exhausted
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class BulkHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.statuses.popleft() if self.server.statuses else 202
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "samples": json.loads(body), "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "test"}')

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def api():
    server = BulkApi()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def shipper_with(url: str, count: int) -> Shipper:
    points = [Point("test.sequence", float(n), {}) for n in range(count)]
    buffer = SampleBuffer(100_000)
    buffer.extend(SampleEncoder({"host": "h"}).encode(points, ts_ms=1_700_000_000_000))
    return Shipper(buffer, HttpTransport(url=url + "/", token="tok-123", timeout=2))


def numbers(request: dict) -> list[int]:
    return [int(sample["value"]) for sample in request["samples"]]


def test_202_acknowledges_and_the_request_is_well_formed(api):
    shipper = shipper_with(api.url, 3)
    assert shipper.ship() is True
    (request,) = api.requests
    assert request["path"] == "/api/v1/metrics/bulk"
    assert request["headers"]["Authorization"] == "Bearer tok-123"
    assert request["headers"]["Content-Type"] == "application/json"
    assert_valid_samples(request["samples"])
    assert numbers(request) == [0, 1, 2] and len(shipper.buffer) == 0 and shipper.sent_total == 3


@pytest.mark.parametrize("status", [503, 500, 429])
def test_overload_and_server_errors_keep_the_batch_for_retry(api, status):
    api.statuses.extend([status])
    shipper = shipper_with(api.url, 1500)
    assert shipper.ship() is False
    assert len(shipper.buffer) == 1500
    assert shipper.ship() is True
    assert [numbers(request) for request in api.requests] == [
        list(range(1000)), list(range(1000)), list(range(1000, 1500))]
    assert shipper.rejected_total == 0 and shipper.sent_total == 1500


@pytest.mark.parametrize("status", [400, 401, 413, 422])
def test_client_errors_drop_the_batch_and_count_it(api, status):
    api.statuses.extend([202, status])
    shipper = shipper_with(api.url, 2500)
    assert shipper.ship() is True
    assert [numbers(request)[0] for request in api.requests] == [0, 1000, 2000]
    assert shipper.rejected_total == 1000 and shipper.sent_total == 1500 and len(shipper.buffer) == 0


def test_no_server_means_retry():
    shipper = shipper_with(f"http://127.0.0.1:{free_port()}", 10)
    assert shipper.ship() is False and len(shipper.buffer) == 10


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (202, Outcome.DELIVERED), (204, Outcome.DELIVERED),
    (400, Outcome.REJECTED), (403, Outcome.REJECTED), (404, Outcome.REJECTED), (429, Outcome.RETRY),
    (500, Outcome.RETRY), (502, Outcome.RETRY), (503, Outcome.RETRY), (307, Outcome.RETRY),
])
def test_outcome_for_status(status, outcome):
    assert outcome_for_status(status) is outcome


def test_the_command_ships_over_http_without_openssl(api):
    script = ("import sys; from microdash_agent.cli import main; code = main(sys.argv[1:]); "
              "print(code, sys.modules.get('ssl'))")
    completed = subprocess.run(
        [sys.executable, "-c", script, "--once", "--transport", "http", "--http-url", api.url, "--host", "web-7",
         "--collectors", "loadavg,memory"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "MICRODASH_AGENT_TOKEN": "env-token"})
    assert completed.stdout.split() == ["0", "None"], completed.stderr
    (request,) = api.requests
    assert request["headers"]["Authorization"] == "Bearer env-token"
    assert_valid_samples(request["samples"])
    assert {"system.load1", "mem.total_bytes"} <= {sample["metric"] for sample in request["samples"]}
    assert {sample["labels"]["host"] for sample in request["samples"]} == {"web-7"}
