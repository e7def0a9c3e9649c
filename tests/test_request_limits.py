"""Unauthenticated requests cannot exhaust the api's memory: bodies are limited before parsing on
every route, password checks run a few at a time, and 422 answers do not echo their input."""

import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from microdash_core.settings import Settings
from support import extra_api_process, recent_ms

LOGIN = "/api/v1/auth/login"
MiB = 1024 * 1024


def fresh_ip() -> str:
    return "10." + ".".join(str(octet) for octet in uuid.uuid4().bytes[:3])


def peak_rss_bytes(pid: int) -> int:
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines())
    return int(status["VmHWM"].split()[0]) * 1024


def test_parallel_logins_keep_the_api_under_200_mb(stack, tmp_path):
    """40 parallel logins with unknown emails: without a bound each argon2id check holds 64 MiB at once."""
    with extra_api_process(stack, tmp_path) as (url, process):
        def attempt(number: int) -> httpx.Response:
            return httpx.post(url + LOGIN, json={"email": f"nobody-{number}-{uuid.uuid4().hex}@example.test",
                                                 "password": "guess"},
                              headers={"X-Forwarded-For": fresh_ip()}, timeout=120)

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(attempt, range(40)))
        peak = peak_rss_bytes(process.pid)
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {401, 503} and 401 in statuses, statuses
    assert all(answer.headers["Retry-After"] == "1" for answer in answers if answer.status_code == 503)
    assert peak < 200 * MiB, f"peak RSS {peak / MiB:.0f} MiB"


def test_a_50_mb_login_body_is_refused_before_it_is_read(stack):
    started = time.monotonic()
    answer = _raw_post(stack.api_url, LOGIN, declared_length=50 * MiB, sent=b'{"email": "' + b"a" * 65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 2
    limit = Settings().max_request_body_bytes
    assert f"body larger than {limit} bytes".encode() in answer


def test_a_body_without_length_is_cut_off_at_the_limit(stack):
    limit = Settings().max_request_body_bytes

    def chunks():
        for _ in range(50 * MiB // 65536):
            yield b" " * 65536

    response = httpx.post(stack.api_url + LOGIN, content=chunks(), headers={"Content-Type": "application/json"},
                          timeout=30)
    assert response.status_code == 413 and response.json() == {"detail": f"body larger than {limit} bytes"}


def test_every_route_has_the_limit_and_ingest_keeps_its_larger_one(stack):
    tenant, token = stack.new_tenant()
    limit = Settings().max_request_body_bytes
    padding = " " * limit
    with stack.client(token) as client:
        for path in ("/api/v1/alerts/rules", "/api/v1/alerts/channels", "/api/v1/alerts/silences"):
            response = client.post(path, content='{"name": "x"}' + padding,
                                   headers={"Content-Type": "application/json"})
            assert response.status_code == 413, (path, response.status_code)
        sample = {"metric": "m", "value": 1.0, "ts": recent_ms(), "labels": {"pad": "x" * 1000}}
        bulk = client.post("/api/v1/metrics/bulk", json=[sample] * 400)  # ~420 KB: over the general limit
        assert bulk.status_code == 202, bulk.text
        assert client.post("/api/v1/metrics", content=b"[" + b" " * Settings().max_body_bytes + b"]",
                           headers={"Content-Type": "application/json"}).status_code == 413
    assert stack.wait_for_samples(tenant.id, 1) == 1


def test_a_422_does_not_echo_large_input(stack):
    limit = Settings().max_request_body_bytes
    big = "x" * (limit // 2 - 1000)
    answers = [
        httpx.post(stack.api_url + LOGIN, json={"email": big, "password": big}),
        httpx.post(stack.api_url + LOGIN, json={"email": ["a"] * (limit // 8), "password": {"k" * 1000: 1}}),
        httpx.post(stack.api_url + LOGIN, json=[{"email": "a"}] * (limit // 20)),
    ]
    for answer in answers:
        assert answer.status_code == 422
        assert len(answer.content) < 2000, len(answer.content)
    first = answers[0].json()["detail"]
    assert {error["loc"][-1] for error in first} == {"email", "password"} and "input" not in first[0]
    short = httpx.post(stack.api_url + LOGIN, json={"email": "a@b.c", "password": 5}).json()["detail"]
    assert short == [{"type": "string_type", "loc": ["body", "password"], "msg": "Input should be a valid string",
                      "input": 5}]  # short input is still shown


def _raw_post(base_url: str, path: str, *, declared_length: int, sent: bytes) -> bytes:
    """Declares a large body, sends only its start and reads the answer (a client would go on sending)."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {declared_length}\r\n\r\n".encode() + sent)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[1].endswith(b"}"):
                break
        return answer
