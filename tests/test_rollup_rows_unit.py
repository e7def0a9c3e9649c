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
