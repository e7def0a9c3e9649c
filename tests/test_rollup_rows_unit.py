"""rollup_rows parses every series' GROUP_CONCAT texts at once: series split by their counts,
each sorted by time if MariaDB sent it out of order, and a text cut at its bound refused (the
caller reads rows instead). Pure functions, no services."""

import numpy as np

from microdash_api import rollup_rows
from microdash_core.store import reads

COLUMNS = ("value_sum", "sample_count")


def test_texts_of_several_series_are_split_by_their_counts_and_sorted():
    groups = [(7, 3, "120000,0,60000", "1.5,0.1,2", "3,1,2"),
              (9, 2, "0,60000", "-4e-300,1.7976931348623157e308", "5,6"),
              (8, 1, "60000", "0.30000000000000004", "1")]
    batch = rollup_rows._parsed(groups, COLUMNS)
    assert batch.series_ids == [7, 9, 8]
    assert batch.offsets.tolist() == [0, 3, 5, 6]
    assert batch.rows.ts.tolist() == [0, 60000, 120000, 0, 60000, 60000]
    assert batch.rows.sums.tolist() == [0.1, 2.0, 1.5, -4e-300, 1.7976931348623157e308, 0.30000000000000004]
    assert batch.rows.counts.tolist() == [1, 2, 3, 5, 6, 1]


def test_bytes_texts_parse_like_str_texts():
    groups = [(1, 2, b"0,60000", b"1.25,2.5", b"1,2")]
    assert rollup_rows._parsed(groups, COLUMNS).rows.sums.tolist() == [1.25, 2.5]


def test_a_text_at_the_bound_or_with_fewer_numbers_than_its_count_is_refused(monkeypatch):
    assert rollup_rows._parsed([(1, 3, "0,60000", "1,2", "1,1")], COLUMNS) is None  # one number short
    assert rollup_rows._parsed([(1, 2, "0,60000", None, "1,1")], COLUMNS) is None
    monkeypatch.setattr(reads, "TEXT_BOUND", 7)
    assert rollup_rows._parsed([(1, 2, "0,60000", "1.5,2.5", "1,1")], COLUMNS) is None  # 7 characters: cut


def test_no_groups_is_no_rows():
    assert rollup_rows._parsed([], COLUMNS).series_ids == []


def test_plain_rows_in_any_order_are_grouped_by_series_and_sorted_by_time():
    rows = [(9, 60000, 2.5, 2), (7, 120000, 1.5, 3), (7, 0, 0.1, 1), (9, 0, -4e-300, 5), (7, 60000, 2.0, 2)]
    batch = rollup_rows._from_plain_rows(COLUMNS, rows)
    assert batch.series_ids == [7, 9]
    assert batch.offsets.tolist() == [0, 3, 5]
    assert batch.rows.ts.tolist() == [0, 60000, 120000, 0, 60000]
    assert batch.rows.sums.tolist() == [0.1, 2.0, 1.5, -4e-300, 2.5]
    assert batch.rows.counts.dtype == np.int64 and batch.rows.counts.tolist() == [1, 2, 3, 5, 2]


def test_plain_rows_in_key_order_keep_it_and_full_precision():
    rows = [(3, 0, 0.30000000000000004, 1), (3, 60000, 1.7976931348623157e308, 4), (4, 60000, -0.0, 2)]
    batch = rollup_rows._from_plain_rows(COLUMNS, rows)
    assert batch.series_ids == [3, 4] and batch.offsets.tolist() == [0, 2, 3]
    assert batch.rows.sums.tolist() == [0.30000000000000004, 1.7976931348623157e308, -0.0]


def test_plain_rows_with_ids_past_float_precision_are_read_exactly():
    big = 2**53 + 1  # a float64 would round it to 2**53
    rows = [(big, 60000, 1.0, 1), (big, 0, 2.0, 2), (2**53, 0, 3.0, 3)]
    batch = rollup_rows._from_plain_rows(COLUMNS, rows)
    assert batch.series_ids == [2**53, big]
    assert batch.rows.ts.tolist() == [0, 0, 60000]
    assert batch.rows.sums.tolist() == [3.0, 2.0, 1.0]


def test_no_plain_rows_is_no_rows():
    assert rollup_rows._from_plain_rows(COLUMNS, []).series_ids == []
