"""ColumnBatch: a batch in columns decoded for the worker's column path, and every payload it
leaves to the row path (which refuses or isolates what it must)."""

import msgspec
import numpy as np

from microdash_core.batches import Batch
from microdash_workers.column_batch import ColumnBatch

NOW = 1_765_000_000_000


def test_a_batch_in_columns_decodes_to_the_rows_the_row_path_sees():
    samples = [("a", {"x": "1"}, NOW, 1.0), ("b", {"x": "1"}, NOW + 1, 2.5), ("a", {"x": "2"}, NOW - 3, -3.0),
               ("a", {"x": "1"}, NOW + 7, 4.0)]
    payload = Batch(7, "id", NOW - 10, samples).encode()
    columns = ColumnBatch.decode(payload)
    rows = Batch.decode(payload).samples
    assert (columns.tenant_id, columns.batch_id, columns.received_ms, len(columns)) == (7, "id", NOW - 10, 4)
    assert [(columns.names[n], columns.texts[t]) for n, t in zip(columns.name_refs, columns.label_refs)] == [
        (metric, labels) for metric, labels, _ts, _value in rows]
    assert columns.timestamps.tolist() == [ts for _m, _l, ts, _v in rows]
    assert columns.values.tolist() == [value for _m, _l, _ts, value in rows]


def test_anything_the_row_path_must_judge_is_left_to_it():
    non_finite = Batch(1, "id", NOW, [("a", {}, NOW, 1.0), ("a", {}, NOW, float("nan"))]).encode()
    in_rows = Batch(1, "id", NOW, [("a", {}, NOW, 1.0)]).encode_rows()
    unused_text = msgspec.msgpack.encode([1, "id", NOW, ["a"], ["{}", '{"x":"1"}'], [0], [0], [0], [1.0]])
    bad_ref = msgspec.msgpack.encode([1, "id", NOW, ["a"], ["{}"], [0], [1], [0], [1.0]])
    ragged = msgspec.msgpack.encode([1, "id", NOW, ["a"], ["{}"], [0, 0], [0], [0], [1.0]])
    past_int64 = msgspec.msgpack.encode([1, "id", NOW, ["a"], ["{}"], [0, 0], [0, 0], [2**62, 2**62], [1.0, 2.0]])
    wrong_types = msgspec.msgpack.encode([1, "id", NOW, ["a"], [{}], [0], [0], [0], [1.0]])
    for payload in (non_finite, in_rows, unused_text, bad_ref, ragged, past_int64, wrong_types, b"[1]", b"\x99"):
        assert ColumnBatch.decode(payload) is None, payload
    assert np.isfinite(ColumnBatch.decode(Batch(1, "id", NOW, [("a", {}, NOW, 1e290)]).encode()).values).all()
