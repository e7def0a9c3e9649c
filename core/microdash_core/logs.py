"""Logging set-up shared by every process: JSON lines by default, plain text on request."""

import datetime as dt
import enum
import json
import logging
import sys
import uuid
from decimal import Decimal
from pathlib import PurePath

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# kopf's per-object logger passes its whole OperatorSettings (a dataclass holding queues) and a
# posting flag in `extra`; neither means anything in a log line. Its object reference does.
KOPF_INTERNALS = frozenset({"settings", "k8s_skip", "k8s_ref"})
OBJECT_REF_FIELDS = ("kind", "namespace", "name")


def json_safe(value: object) -> object:
    """The JSON form of an extra field's value; what has none becomes a placeholder naming its type.

    Never deep-copies or walks an unknown object: python-json-logger's own encoder turns
    dataclasses into dicts with `dataclasses.asdict`, which deep-copies them and fails on kopf's
    settings."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, (uuid.UUID, Decimal, PurePath, BaseException)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return f"<{type(value).__name__}>"


class SafeJsonFormatter(JsonFormatter):
    """One JSON object per record, whatever a library put in `extra`."""

    def __init__(self) -> None:
        super().__init__(FIELDS, timestamp=False, json_default=json_safe,
                         reserved_attrs=[*RESERVED_ATTRS, *KOPF_INTERNALS])

    def add_fields(self, log_data, record: logging.LogRecord, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            log_data["object"] = {field: ref.get(field) for field in OBJECT_REF_FIELDS if ref.get(field)}

    def jsonify_log_record(self, log_data) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except (TypeError, ValueError, RecursionError):  # e.g. a circular structure in an extra
            kept = {key: log_data[key] for key in ("asctime", "levelname", "name", "message") if key in log_data}
            kept["unserialisable_extra"] = sorted(str(key) for key in log_data if key not in kept)
            return json.dumps(kept, default=json_safe)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(SafeJsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
