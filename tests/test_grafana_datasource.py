"""The Grafana data source block of docs/integrations.md, used the way Grafana uses it: its URL
and its custom header (token substituted as Grafana's provisioning would), against the requests
Grafana sends on Save & test, in its browsers and for a panel."""

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from support import recent_ms

DOC = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"


def grafana_datasource() -> dict:
    section = DOC.read_text().split("## Grafana", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    (datasource,) = yaml.safe_load(block)["datasources"]
    return datasource


def test_the_documented_grafana_datasource_reads_its_tenant(stack):
    datasource = grafana_datasource()
    assert datasource["type"] == "prometheus" and datasource["jsonData"]["httpMethod"] == "POST"
    tenant, token = stack.new_tenant("grafana")
    other, other_token = stack.new_tenant("grafana-other")
    now = recent_ms(-2000)
    for owner, owner_token, host in ((tenant, token, "web1"), (other, other_token, "secret-host")):
        with stack.client(owner_token) as client:
            client.post("/api/v1/metrics/bulk", json=[
                {"metric": "node_load1", "value": 0.5, "ts": now - i * 15_000, "labels": {"host": host}}
                for i in range(20)]).raise_for_status()
        stack.wait_for_samples(owner.id, 20)
    url = urlsplit(datasource["url"])._replace(netloc=urlsplit(stack.api_url).netloc).geturl()
    header = {datasource["jsonData"]["httpHeaderName1"]:
              datasource["secureJsonData"]["httpHeaderValue1"].replace("$MICRODASH_TOKEN", token)}
    with httpx.Client(base_url=url, headers=header, timeout=30) as grafana:
        check = grafana.post("/api/v1/query", data={"query": "1+1", "time": f"{time.time():.3f}"}).json()
        assert check == {"status": "success", "data": {"resultType": "scalar", "result": [check["data"]["result"][0], "2"]}}
        assert grafana.get("/api/v1/status/buildinfo").json()["data"]["version"].startswith("2.")
        assert grafana.get("/api/v1/label/__name__/values").json()["data"] == ["node_load1"]
        assert grafana.get("/api/v1/labels").json()["data"] == ["__name__", "host"]
        assert grafana.post("/api/v1/series", data={"match[]": "node_load1"}).json()["data"] == [
            {"__name__": "node_load1", "host": "web1"}]
        assert grafana.get("/api/v1/metadata").json() == {"status": "success", "data": {}}
        panel = {"query": "avg by (host) (node_load1)", "start": f"{(now - 240_000) / 1000:.3f}",
                 "end": f"{now / 1000:.3f}", "step": "60"}
        result = grafana.post("/api/v1/query_range", data=panel).json()["data"]["result"]
        assert [series["metric"] for series in result] == [{"host": "web1"}]
        assert [value for _, value in result[0]["values"]] == ["0.5"] * 5
        assert grafana.post("/api/v1/query_exemplars", data=panel).json()["data"] == []
