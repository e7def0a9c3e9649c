"""The one series lookup (microdash_core.series_lookup) that the api, the alert evaluator and the
CLI run, on a real MariaDB: scoped to one tenant, narrowed by metric and by label values on the
canonical JSON, and never by what is not a label name."""

from contextlib import closing

import pytest

from microdash_core import db, series_lookup
from microdash_core.matchers import make_matcher
from microdash_core.series import canonical_labels, series_hash
from seal_support import drop_database, migrated_database

SERIES = [("a", "cpu", {"host": "h1", "mode": "idle"}), ("a", "cpu", {"host": "h2", "mode": "idle"}),
          ("a", "mem", {"host": "h1"}), ("a", "up", {}), ("b", "cpu", {"host": "h1", "mode": "idle"})]


@pytest.fixture(scope="module")
def database(stack):
    settings = migrated_database(stack, "lookup")
    ids: dict[tuple, int] = {}
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        tenants = {}
        for name in ("a", "b"):
            cursor.execute("INSERT INTO tenants (name, display_name) VALUES (%s, %s)", (name, name))
            tenants[name] = cursor.lastrowid
        for tenant, metric, labels in SERIES:
            text = canonical_labels(labels)
            cursor.execute("INSERT INTO series (tenant_id, series_hash, metric, labels) VALUES (%s, %s, %s, %s)",
                           (tenants[tenant], series_hash(metric, text), metric, text))
            ids[(tenant, metric, text)] = cursor.lastrowid
        connection.commit()
    yield settings, tenants, ids
    drop_database(settings)


def _run(settings, **selection) -> list[tuple[int, str, str]]:
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute(*series_lookup.statement(**selection))
        return list(cursor.fetchall())


def _names(rows) -> list[tuple[str, str]]:
    return [(metric, labels) for _id, metric, labels in rows]


def test_a_tenant_sees_its_own_series_only(database):
    settings, tenants, ids = database
    rows = _run(settings, tenant_id=tenants["b"])
    assert [row[0] for row in rows] == [ids[("b", "cpu", canonical_labels({"host": "h1", "mode": "idle"}))]]
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        found = series_lookup.find_series(cursor, tenant_id=tenants["b"], metrics={"cpu", "mem"})
    assert found == {rows[0][0]: ("cpu", {"host": "h1", "mode": "idle"})}  # tenant a's h1 cpu and mem: not here


def test_metrics_narrow_and_no_metrics_finds_nothing(database):
    settings, tenants, _ids = database
    a = tenants["a"]
    assert sorted(metric for metric, _labels in _names(_run(settings, tenant_id=a))) == ["cpu", "cpu", "mem", "up"]
    assert _names(_run(settings, tenant_id=a, metrics=["mem", "up"], ordered=True)) == [
        ("mem", '{"host":"h1"}'), ("up", "{}")]
    assert _run(settings, tenant_id=a, metrics=[]) == []
    with closing(db.connect(settings)) as connection, connection.cursor() as cursor:
        assert series_lookup.find_series(cursor, tenant_id=a, metrics=set()) == {}
        assert series_lookup.find_series(cursor, tenant_id=a, metrics={"nothing"}) == {}


def test_label_values_narrow_on_the_canonical_json(database):
    settings, tenants, _ids = database
    a = tenants["a"]
    assert _names(_run(settings, tenant_id=a, label_values=[("host", ["h2", "h9"])])) == [
        ("cpu", '{"host":"h2","mode":"idle"}')]
    assert _names(_run(settings, tenant_id=a, metrics=["cpu"], label_values=[("host", ["h1"]), ("mode", ["idle"])],
                       ordered=True)) == [("cpu", '{"host":"h1","mode":"idle"}')]
    assert _run(settings, tenant_id=a, label_values=[("mode", ["busy"])]) == []


@pytest.mark.parametrize("name", ['host"', "$.host", "a b", "1host", ""])
def test_what_is_not_a_label_name_or_names_no_value_narrows_nothing(database, name):
    settings, tenants, _ids = database
    everything = _run(settings, tenant_id=tenants["a"], ordered=True)
    assert _run(settings, tenant_id=tenants["a"], label_values=[(name, ["h1"])], ordered=True) == everything
    assert _run(settings, tenant_id=tenants["a"], label_values=[("host", [])], ordered=True) == everything


def _selector(*matchers: tuple[str, str, str]) -> series_lookup.Selector:
    return series_lookup.Selector.of(make_matcher(name, op, value) for name, op, value in matchers)


def test_a_selector_names_its_metric_with_an_equality_and_else_filters_the_tenants_names():
    named = _selector(("__name__", "=", "cpu"), ("__name__", "!~", "m.*"), ("host", "=", "h1"))
    assert not named.needs_metric_names and named.metrics() == ["cpu"]
    assert _selector(("__name__", "=", "mem"), ("__name__", "!~", "m.*")).metrics() == []  # no series at all
    pattern = _selector(("__name__", "=~", "c.*|up"))
    assert pattern.needs_metric_names and pattern.metrics(["cpu", "mem", "up"]) == ["cpu", "up"]
    anything = _selector(("host", "=~", ".+"))
    assert not anything.needs_metric_names and anything.metrics() is None  # any metric


def test_a_selector_matches_the_other_labels_and_narrows_by_the_values_it_names():
    selector = _selector(("__name__", "=", "cpu"), ("host", "=", "h1"), ("mode", "=~", "idle|user"),
                         ("zone", "=", ""), ("rack", "=~", "r[0-9]+"), ("dc", "!=", "x"))
    assert selector.named_values() == [("host", ["h1"]), ("mode", ["idle", "user"])]
    assert selector.matches({"__name__": "cpu", "host": "h1", "mode": "user", "rack": "r7"})
    assert not selector.matches({"__name__": "cpu", "host": "h1", "mode": "user", "rack": "r7", "zone": "z"})
    assert not selector.matches({"__name__": "cpu", "host": "h1", "mode": "steal", "rack": "r7"})
