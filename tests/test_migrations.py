"""Schema migrations and sample partitions against a real MariaDB."""

import datetime as dt

from microdash_core import db, migrate
from microdash_core.partitions import day_end_ms, existing_partitions


def test_migrate_is_idempotent_and_partitions_cover_the_window(stack):
    settings = stack.settings
    assert migrate.migrate(settings) == []  # already applied by the stack
    with db.transaction(settings) as cursor:
        partitions = existing_partitions(cursor)
    today = dt.datetime.now(dt.timezone.utc).date()
    for offset in range(-7, settings.partition_days_ahead + 1):
        day = today + dt.timedelta(days=offset)
        assert partitions[f"p{day:%Y%m%d}"] == day_end_ms(day)
    assert partitions["p_future"] is None


def test_partitions_are_added_for_later_days_without_touching_existing(stack):
    settings = stack.settings
    later = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=3)
    with db.transaction(settings) as cursor:
        before = existing_partitions(cursor)
    created = migrate.maintain_partitions(settings, today=later)
    with db.transaction(settings) as cursor:
        after = existing_partitions(cursor)
    assert len(created) == 3 and all(name not in before for name in created)
    assert {name: bound for name, bound in after.items() if name in before} == before
    assert migrate.maintain_partitions(settings, today=later) == []
