"""The chart on the real node with an "external" MariaDB (issue 14, item 6): a StatefulSet and a
Service of their own in namespace `databases` (external-mariadb.yaml), not part of any release; then
`helm install` with the bundled MariaDB off and `externalDatabase` as charts/microdash/ci/
external-databases-values.yaml sets it (its Redis and Mosquitto stay bundled: this scenario is about
the database). A Tenant's samples land in that database (its series row is there) and come back
through the api Service, and `helm uninstall` leaves the database and its data alone (read back by
`microdash samples export` in a pod, against that database). Samples are always read through the
product, never from the tables that happen to hold them (docs/storage.md).

Runs after test_cluster_e2e.py on the same node (file order, one xdist worker); its steps build on
each other like those.
"""

import os
import string
import time
from pathlib import Path

import pytest
import yaml

from kubenode import TIMINGS
from release import CHART, Release, exported_samples, mariadb_rows, stored_samples, wait_for

RELEASE = "mdx"
NAMESPACE = "microdash-ext"
DATABASE_NAMESPACE = "databases"
DATABASE_POD = "mariadb-0"
TENANT = "globex"
MANIFEST = Path(__file__).with_name("external-mariadb.yaml")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("cluster")]


class ExternalDatabase:
    """The ci file's `externalDatabase`, and the password both sides share."""

    def __init__(self):
        ci_values = yaml.safe_load((CHART / "ci" / "external-databases-values.yaml").read_text())
        self.settings = ci_values["externalDatabase"]
        self.password = os.urandom(12).hex()
        self.root_password = os.urandom(12).hex()

    @property
    def values(self) -> dict:
        """The chart values of this scenario: the ci file's database part, nothing else."""
        return {"mariadb": {"enabled": False}, "externalDatabase": self.settings}

    @property
    def url(self) -> str:
        s = self.settings
        return f"mysql://{s['username']}:{self.password}@{s['host']}:{s['port']}/{s['database']}"

    def rows(self, release: Release, query: str) -> list[str]:
        return mariadb_rows(release.node, DATABASE_NAMESPACE, DATABASE_POD, username=self.settings["username"],
                            password=self.password, database=self.settings["database"], query=query)


@pytest.fixture(scope="module")
def database() -> ExternalDatabase:
    return ExternalDatabase()


@pytest.fixture(scope="module")
def release(node) -> Release:
    return Release(node, RELEASE, NAMESPACE)


def test_helm_install_against_a_separate_mariadb_service(release, database, tmp_path):
    assert database.settings["host"] == f"mariadb.{DATABASE_NAMESPACE}.svc.cluster.local"
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())["mariadb"]["image"]
    manifest = string.Template(MANIFEST.read_text()).substitute(
        image=f"{chart_values['repository']}:{chart_values['tag']}", database=database.settings["database"],
        username=database.settings["username"], password=database.password, root_password=database.root_password)
    started = time.monotonic()
    release.node.kubectl("apply", "-f", "-", input=manifest)
    release.node.kubectl("-n", DATABASE_NAMESPACE, "rollout", "status", "statefulset/mariadb", "--timeout=180s")
    TIMINGS["external MariaDB Ready"] = time.monotonic() - started
    release.node.kubectl("create", "namespace", NAMESPACE)
    release.kubectl("create", "secret", "generic", database.settings["existingSecret"],
                    f"--from-literal={database.settings['existingSecretPasswordKey']}={database.password}")
    values_file = tmp_path / "external-database.yaml"
    values_file.write_text(yaml.safe_dump(database.values))
    TIMINGS["helm install --wait (external MariaDB)"] = release.install(values_files=(values_file,))
    assert not release.get("statefulset", "-l", "app.kubernetes.io/component=mariadb")["items"]
    assert release.workloads_not_ready() == []
    # the migration Job ran pre-install, against the external database
    tables = set(database.rows(release, "SHOW TABLES"))
    assert {"_yoyo_migration", "series", "tenants"} <= tables, tables


def test_a_tenants_samples_are_stored_in_the_external_database(release, database):
    credentials = release.apply_tenant(TENANT)
    since_ms = int(time.time() * 1000) - 60_000
    release.post_and_read_back(credentials["token"], "external.db", 42.0)
    with release.api(credentials["token"]) as api:
        served = stored_samples(api, "external.db", first_ms=since_ms, last_ms=int(time.time() * 1000))
    assert [value for _ts, value in served] == [42.0]
    assert series_rows(release, database) == ["external.db"]


def test_helm_uninstall_leaves_the_external_database_and_its_data(release, database):
    release.kubectl("delete", "tenant", TENANT, "--wait", "--timeout=120s")
    result = release.helm("uninstall", RELEASE, "--wait", "--timeout", "5m", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for("the release's pods gone", lambda: not release.get("pod")["items"], timeout=120)
    statefulset = release.node.kubectl("-n", DATABASE_NAMESPACE, "get", "statefulset", "mariadb", "-o",
                                       "jsonpath={.status.readyReplicas}").stdout
    assert statefulset == "1"
    # the Tenant's deletionPolicy is Retain (docs/examples/tenant.yaml): its series and samples stay
    assert series_rows(release, database) == ["external.db"]
    exported = exported_samples(release.node, DATABASE_NAMESPACE, image=server_image(), database_url=database.url,
                                tenant=TENANT, metric="external.db")
    assert [(sample["value"], sample["labels"]) for sample in exported] == [(42.0, {"via": "http"})]
    # the bundled Redis and Mosquitto keep their claims (docs/helm.md); there was never one for MariaDB
    claims = {item["metadata"]["name"] for item in release.get("pvc")["items"]}
    assert claims == {f"data-{release.fullname}-redis-0", f"data-{release.fullname}-mosquitto-0"}


def series_rows(release: Release, database: ExternalDatabase) -> list[str]:
    """The Tenant's series rows in the external database itself: what ingest wrote landed there."""
    return database.rows(release, "SELECT s.metric FROM series s JOIN tenants t ON t.id = s.tenant_id"
                                  f" WHERE t.name = '{TENANT}'")


def server_image() -> str:
    """The server image the chart's defaults name (its appVersion tag), built and imported by the node."""
    repository = yaml.safe_load((CHART / "values.yaml").read_text())["image"]["repository"]
    return f"{repository}:{yaml.safe_load((CHART / 'Chart.yaml').read_text())['appVersion']}"
