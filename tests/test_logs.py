"""JSON log lines (the chart's default format) for whatever a library puts in a record's `extra`."""

import io
import json
import logging
import queue
from dataclasses import dataclass, field

import kopf
import pytest
from kopf._core.actions.loggers import ObjectLogger

from microdash_core.logs import configure_logging


@pytest.fixture
def json_lines():
    """The root logger as every process configures it, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_a_kopf_per_object_message_is_one_json_line_naming_its_object(json_lines):
    tenant = kopf.Body({"apiVersion": "microdash.io/v1alpha1", "kind": "Tenant",
                        "metadata": {"name": "acme", "namespace": "team", "uid": "u-1"}})
    # kopf's own object logger, carrying its real OperatorSettings (which hold queues) in `extra`
    ObjectLogger(body=tenant, settings=kopf.OperatorSettings()).info("Handler 'reconcile' succeeded.")

    (line,) = json_lines()
    assert line["message"] == "Handler 'reconcile' succeeded."
    assert line["name"] == "kopf.objects" and line["levelname"] == "INFO"
    assert line["object"] == {"kind": "Tenant", "namespace": "team", "name": "acme"}
    assert "settings" not in line and "k8s_skip" not in line


@dataclass
class HoldsAQueue:
    pending: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)


def test_an_unserialisable_extra_never_loses_the_message(json_lines):
    log = logging.getLogger("microdash.test")
    circular: list = []
    circular.append(circular)
    log.warning("first", extra={"holder": HoldsAQueue(), "tenant_id": 7, "labels": {"a": b"x"}})
    log.warning("second", extra={"circular": circular})

    first, second = json_lines()
    assert first["message"] == "first"
    assert (first["holder"], first["tenant_id"], first["labels"]) == ("<HoldsAQueue>", 7, {"a": "x"})
    assert second["message"] == "second" and second["unserialisable_extra"] == ["circular"]
