"""Equality matchers narrow /api/v1/series and /api/v1/query in MariaDB (JSON_VALUE on the
canonical labels) before the matchers decide in Python: the answers are the matchers' own, byte
for byte (no case folding, escapes and non-ASCII values compared as stored, "" as a missing label)."""

from support import recent_ms


def test_equality_matchers_answer_exactly_as_the_matchers_do(stack):
    tenant, token = stack.new_tenant("prefilter")
    now = recent_ms(-1000)
    label_sets = [{"host": "Été", "dc": "a"}, {"host": "été", "dc": "a"}, {"host": 'q"uote\\d', "dc": "b"},
                  {"host": "plain"}, {"host": "plain ", "dc": ""}]
    samples = [{"metric": "pre", "value": n, "ts": now, "labels": labels} for n, labels in enumerate(label_sets)]
    with stack.client(token) as client:
        assert client.post("/api/v1/metrics/bulk", json=samples).status_code == 202
    assert stack.wait_for_samples(tenant.id, len(samples)) == len(samples)

    def hosts(*match):
        with stack.client(token) as client:
            response = client.get("/api/v1/series", params=[("metric", "pre"), *(("match", m) for m in match)])
        assert response.status_code == 200, response.text
        return sorted(series["labels"].get("host") for series in response.json()["series"])

    assert hosts("host=Été") == ["Été"]
    assert hosts("host=été") == ["été"]
    assert hosts('host=q"uote\\d') == ['q"uote\\d']
    assert hosts("host=plain") == ["plain"]
    assert hosts("dc=") == ["plain", "plain "]  # missing or empty
    assert hosts("dc=a", "host!=Été") == ["été"]
    with stack.client(token) as client:
        result = client.get("/api/v1/query", params={"metric": "pre", "match": 'host="plain "', "start": now,
                                                     "end": now + 1, "step": 1}).json()
    assert [series["points"] for series in result["series"]] == [[[now, 4.0]]]
