"""`helm test`: ingest one sample with a tenant's token, then read it back through the api.

Standard library only (it runs in the server image). Environment: MICRODASH_API_URL (e.g.
http://release-microdash-api:80), MICRODASH_TOKEN (the tenant's API token). Exit status 0 when the
sample came back, 1 otherwise.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

METRIC = "microdash.helm_test"
TIMEOUT_SECONDS = float(os.environ.get("MICRODASH_SMOKE_TIMEOUT", "60"))


def call(method: str, path: str, body: object | None = None) -> tuple[int, object]:
    request = urllib.request.Request(
        os.environ["MICRODASH_API_URL"].rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {os.environ['MICRODASH_TOKEN']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def main() -> int:
    run = f"{time.time_ns():x}"
    now_ms = time.time_ns() // 1_000_000
    status, answer = call("POST", "/api/v1/metrics",
                          {"metric": METRIC, "value": 42.0, "ts": now_ms, "labels": {"run": run}})
    if status != 202:
        print(f"ingest answered {status}: {answer}", file=sys.stderr)
        return 1
    query = urllib.parse.urlencode({"metric": METRIC, "match": f"run={run}", "start": now_ms - 60_000,
                                    "end": now_ms + 60_000, "step": 1000, "resolution": "raw", "aggregation": "max"})
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status, answer = call("GET", f"/api/v1/query?{query}")
        points = [point for series in (answer or {}).get("series", []) for point in series["points"]] \
            if status == 200 and isinstance(answer, dict) else []
        if any(value == 42.0 for _, value in points):
            print(f"sample {METRIC}{{run={run}}} ingested and read back")
            return 0
        time.sleep(1)
    print(f"sample not readable within {TIMEOUT_SECONDS} s; last answer {status}: {answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
