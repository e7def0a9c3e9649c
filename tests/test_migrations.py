"""Schema migrations and sample partitions against a real MariaDB."""

import datetime as dt

from microdash_core import db, migrate
from microdash_core.partitions import PARTITIONED_TABLES, day_end_ms, existing_partitions


def test_migrate_is_idempotent_and_partitions_cover_the_window(stack):
    settings = stack.settings
    assert migrate.migrate(settings) == []  # already applied by the stack
    today = dt.datetime.now(dt.timezone.utc).date()
    for table in PARTITIONED_TABLES:
        with db.transaction(settings) as cursor:
            partitions = existing_partitions(cursor, table)
        for offset in range(-7, settings.partition_days_ahead + 1):
            day = today + dt.timedelta(days=offset)
            assert partitions[f"p{day:%Y%m%d}"] == day_end_ms(day), table
        assert partitions["p_future"] is None


def test_partitions_are_added_for_later_days_without_touching_existing(stack):
    settings = stack.settings
    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)
    with db.transaction(settings) as cursor:
        before = {table: existing_partitions(cursor, table) for table in PARTITIONED_TABLES}
    created = migrate.maintain_partitions(settings, today=later)
    with db.transaction(settings) as cursor:
        after = {table: existing_partitions(cursor, table) for table in PARTITIONED_TABLES}
    for table in PARTITIONED_TABLES:
        assert len(created[table]) == 3 and all(name not in before[table] for name in created[table])
        assert {name: bound for name, bound in after[table].items() if name in before[table]} == before[table]
    assert migrate.maintain_partitions(settings, today=later) == {table: [] for table in PARTITIONED_TABLES}
