"""Every MariaDB we start runs durable (a worker acknowledges a batch after its commit) and with the
adaptive hash index on (bulk ingest's inserts into the head; docs/decisions.md)."""

from pathlib import Path

import yaml

from chart_support import component, containers, render
from microdash_core import db

REPO = Path(__file__).resolve().parent.parent
FLAGS = {"--innodb-flush-log-at-trx-commit=1", "--innodb-adaptive-hash-index=ON"}


def test_the_local_stacks_mariadb_commits_durably_and_hashes_its_inserts(stack):
    with db.transaction(stack.settings) as cursor:
        cursor.execute("SELECT @@innodb_flush_log_at_trx_commit, @@innodb_adaptive_hash_index")
        assert cursor.fetchone() == (1, 1)


def test_the_chart_starts_mariadb_with_the_same_flags():
    (mariadb,) = [doc for doc in render() if doc["kind"] == "StatefulSet" and component(doc) == "mariadb"]
    (container,) = [c for c in containers(mariadb) if c["name"] == "mariadb"]
    assert FLAGS <= set(container["args"])


def test_compose_starts_mariadb_with_the_same_flags():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert FLAGS <= set(compose["services"]["mariadb"]["command"])
