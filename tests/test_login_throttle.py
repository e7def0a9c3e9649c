"""Failed-login backoff: counted before the password check, per email from one address, per address
and per email; the delay doubles with each failure instead of locking the account; the client
address comes from a trusted number of proxy hops."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from starlette.requests import Request

from microdash_api.client_address import client_address
from microdash_core.settings import Settings
from support import extra_api

LOGIN = "/api/v1/auth/login"
PASSWORD = "correct horse"


def login(url: str, email: str, password: str = PASSWORD, *, ip: str | None = None,
          forwarded: str | None = None) -> httpx.Response:
    # The api trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default), so each test throttles its own "client".
    return httpx.post(url + LOGIN, json={"email": email, "password": password},
                      headers={"X-Forwarded-For": forwarded or ip or fresh_ip()}, timeout=60)


def fresh_ip() -> str:
    return "10." + ".".join(str(octet) for octet in uuid.uuid4().bytes[:3])


def test_parallel_guesses_are_counted_before_any_is_checked(stack):
    tenant, _ = stack.new_tenant()
    email, ip = stack.new_user([(tenant, "viewer")]), fresh_ip()
    with ThreadPoolExecutor(15) as pool:
        statuses = [answer.status_code for answer in pool.map(lambda _: login(stack.api_url, email, "guess", ip=ip),
                                                              range(15))]
    assert statuses.count(401) <= Settings().login_free_failures_per_email_and_ip + 1, statuses
    assert 429 in statuses and set(statuses) <= {401, 429, 503}, statuses


def test_a_stranger_guessing_cannot_lock_the_owner_out(stack):
    tenant, _ = stack.new_tenant()
    email, stranger = stack.new_user([(tenant, "admin")]), fresh_ip()
    statuses = [login(stack.api_url, email, "guess", ip=stranger).status_code
                for _ in range(Settings().login_free_failures_per_email_and_ip + 2)]
    assert statuses[-1] == 429 and statuses.count(401) == len(statuses) - 1, statuses
    assert login(stack.api_url, email).status_code == 200  # from the owner's own address


def test_the_delay_doubles_with_each_failure_then_the_right_password_works(stack, tmp_path):
    tenant, _ = stack.new_tenant()
    email, ip = stack.new_user([(tenant, "viewer")]), fresh_ip()
    with extra_api(stack, tmp_path, MICRODASH_LOGIN_FREE_FAILURES_PER_EMAIL_AND_IP="1",
                   MICRODASH_LOGIN_BACKOFF_BASE_SECONDS="3") as url:
        assert login(url, email, "guess", ip=ip).status_code == 401  # free
        assert login(url, email, "guess", ip=ip).status_code == 401  # checked, then 3 s to wait
        first = login(url, email, ip=ip)
        assert first.status_code == 429 and 1 <= int(first.headers["Retry-After"]) <= 3
        assert login(url, email).status_code == 200  # meanwhile, from elsewhere
        time.sleep(int(first.headers["Retry-After"]))
        assert login(url, email, "guess", ip=ip).status_code == 401  # checked, then 6 s to wait
        second = login(url, email, ip=ip)
        assert second.status_code == 429 and 3 < int(second.headers["Retry-After"]) <= 6
        time.sleep(int(second.headers["Retry-After"]))
        assert login(url, email, ip=ip).status_code == 200


def test_a_success_forgives_the_email_not_the_address(stack):
    tenant, _ = stack.new_tenant()
    email, ip = stack.new_user([(tenant, "viewer")]), fresh_ip()
    for _ in range(3):
        assert login(stack.api_url, email, "guess", ip=ip).status_code == 401
    assert login(stack.api_url, email, ip=ip).status_code == 200
    assert stack.redis_client().hget(f"microdash:login-backoff:ip:{ip}", "failures") == b"3"
    for _ in range(Settings().login_free_failures_per_email_and_ip):
        assert login(stack.api_url, email, "guess", ip=ip).status_code == 401
    assert login(stack.api_url, email, ip=ip).status_code == 200  # the earlier failures no longer count


def test_an_address_guessing_many_emails_backs_off_on_all_of_them(stack, tmp_path):
    tenant, _ = stack.new_tenant()
    email, ip = stack.new_user([(tenant, "viewer")]), fresh_ip()
    with extra_api(stack, tmp_path, MICRODASH_LOGIN_FREE_FAILURES_PER_IP="3",
                   MICRODASH_LOGIN_BACKOFF_BASE_SECONDS="30") as url:
        for attempt in range(4):
            assert login(url, f"nobody-{attempt}@example.test", "guess", ip=ip).status_code == 401
        refused = login(url, email, ip=ip)
        assert refused.status_code == 429 and "too many failed logins" in refused.json()["detail"]
        assert login(url, email).status_code == 200  # other addresses are not affected


def test_behind_a_trusted_proxy_the_forged_part_of_x_forwarded_for_is_ignored(stack, tmp_path):
    """forwarded_allow_ips "*" believed the leftmost entry, which the client writes; one hop is the proxy's."""
    proxy_saw = "192.0.2." + str(uuid.uuid4().int % 250 + 1)
    with extra_api(stack, tmp_path, MICRODASH_FORWARDED_ALLOW_IPS="*", MICRODASH_TRUSTED_PROXY_HOPS="1") as url:
        for _ in range(3):
            assert login(url, "nobody@example.test", "guess", forwarded=f"{fresh_ip()}, {proxy_saw}").status_code == 401
    assert stack.redis_client().hget(f"microdash:login-backoff:ip:{proxy_saw}", "failures") == b"3"


def request_from(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "client": (peer, 5000)})


def test_the_client_address_is_the_entry_a_trusted_hop_wrote():
    assert client_address(request_from("10.1.1.1", "1.1.1.1"), 0) == "10.1.1.1"  # no proxy: the peer
    assert client_address(request_from("10.1.1.1", "6.6.6.6, 2.2.2.2"), 1) == "2.2.2.2"
    assert client_address(request_from("10.1.1.1", "6.6.6.6", "2.2.2.2, 10.0.0.5"), 2) == "2.2.2.2"
    assert client_address(request_from("10.1.1.1", "2.2.2.2"), 2) == "2.2.2.2"  # fewer hops than proxies
    assert client_address(request_from("10.1.1.1"), 1) == "10.1.1.1"  # not through the proxy
    assert client_address(request_from("10.1.1.1", "6.6.6.6, not-an-address"), 1) == "unknown"
    assert client_address(request_from("10.1.1.1", "::FFFF:2.2.2.2, 2001:DB8::1"), 1) == "2001:db8::1"


def test_the_audit_log_records_the_same_trusted_address(stack, tmp_path):
    tenant, token = stack.new_tenant()
    rule = {"name": "r", "metric": "cpu", "aggregation": "avg", "window_seconds": 60, "comparison": ">", "threshold": 1}
    with extra_api(stack, tmp_path, MICRODASH_FORWARDED_ALLOW_IPS="*", MICRODASH_TRUSTED_PROXY_HOPS="1") as url:
        created = httpx.post(url + "/api/v1/alerts/rules", json=rule, headers={
            "Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9, 192.0.2.44"})
    assert created.status_code == 201, created.text
    assert stack.sql("SELECT address FROM audit_log WHERE tenant_id = %s", (tenant.id,)) == [("192.0.2.44",)]
