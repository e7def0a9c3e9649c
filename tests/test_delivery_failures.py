"""A delivery attempt that raises, whatever the reason, is recorded as a failed attempt: a
delivery row with a coarse error class, and the job's retry, never a crashed job with no trace."""

from contextlib import closing

import pytest

from alerting_support import create_channel, create_rule, store_samples
from microdash_core import db
from microdash_workers.alert_eval import evaluate_rules
from microdash_workers.notify import DeliveryFailed, deliver
from support import recent_ms

S = 1000


def test_a_sender_that_raises_leaves_a_failed_delivery_row(stack):
    """A channel stored without a field the sender needs (written before the API checked it, or
    straight into the database) makes the email sender raise a KeyError."""
    tenant, _ = stack.new_tenant()
    now = recent_ms(-60 * S)
    store_samples(stack, tenant.id, [("cpu", {"host": "n1"}, now - 5 * S, 97.5)])
    create_rule(stack, tenant.id, name="cpu-high")
    create_channel(stack, tenant.id, kind="email", config={"host": "127.0.0.1", "port": 9, "tls": "none",
                                                           "sender": "alerts@microdash.test"})
    with closing(db.connect(stack.settings)) as database:
        (notification_id,) = evaluate_rules(database, stack.settings, tenant_id=tenant.id, now_ms=now,
                                            evaluator="test")["notification_ids"]
    with pytest.raises(DeliveryFailed):
        deliver(notification_id, stack.settings)
    (row,) = stack.sql("SELECT attempt, status, error, next_retry_at IS NOT NULL FROM deliveries"
                       " WHERE notification_id = %s", (notification_id,))
    assert row == (1, "error", "delivery error", 1), row
    assert stack.sql("SELECT status FROM notifications WHERE id = %s", (notification_id,)) == [("pending",)]
