"""Raw sample reads: sealed chunks, level-0 parts, the log and the legacy head, as one pair of
numpy arrays per series.

Where raw samples live (docs/storage.md): a worker appends each stored batch to the log
(`sample_log`, one compressed row per batch); compaction folds the oldest log rows into level-0
chunk parts; the sealer folds a window that is over into its canonical parts 0..k. Rows of the
legacy head (`samples`, one row per sample, written before the log existed) are sealed as before.
A read is ONE statement (a UNION ALL of the three tables), so it sees one consistent snapshot
even under READ COMMITTED: compaction and sealing move samples in single transactions, so every
sample is seen where it is, once. Of several values at one (series, ts), the newest write wins:
canonical parts (in part order) < legacy head rows < level-0 parts (in part order, which is
write order) < log rows (by id, and within a row by position).

Head rows are not sent one by one: MariaDB concatenates each series-hour's timestamps and values
into two texts (GROUP_CONCAT) and numpy parses them, about ten times faster than one Python tuple
per sample. A DOUBLE prints as its shortest round-trip decimal, so nothing is lost. A text that
reaches its length bound is detected, and the whole read is repeated with one row per head sample
(again one statement, so again one snapshot).
A read the caller counted small (count_statement, shapes_for) asks for rows straight away: for a
few samples, grouping costs MariaDB more than it saves. A read counted at most SERIES_TEXT_SAMPLES
asks for one pair of texts per series ("series_texts"): grouped by series alone, MariaDB follows
the primary key instead of grouping hours in a temporary table (~15 % of a head read), and no
text can reach its bound.

A log row holds many series, all of one bucket (series_id % head_log.BUCKETS): a read gets the
log rows of its series' buckets that overlap its span and keeps the series it asked for, so a read
of one series loads about 1/BUCKETS of the log. Compaction keeps the log small.

This module builds the statements and assembles the rows; `read_series` runs them on a PyMySQL
cursor, and an asyncio caller runs the same `statements()` on its own cursor and hands the rows
to `assemble`.
"""

from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import orjson

from microdash_core import chunks
from microdash_core.store import head_log

Arrays = tuple[np.ndarray, np.ndarray]
Shape = Literal["texts", "series_texts", "rows"]
TEXT_BOUND = 16 * 1024 * 1024  # within MariaDB's default max_allowed_packet
# At most this many samples, one row per head sample costs MariaDB less than grouping texts (no
# temporary table), and Python little: alert rules and dashboards read a few samples per series.
SMALL_READ_SAMPLES = 1_000
# At most this many samples, a series' two texts (~41 bytes a sample at most) stay far below
# TEXT_BOUND and the default max_allowed_packet: one group per series.
SERIES_TEXT_SAMPLES = 200_000
_HEAD_GROUP_MS = 3_600_000
_CHUNK, _HEAD_TEXT, _HEAD_ROW, _LOG = 0, 1, 2, 3
_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))


class TextBoundReached(Exception):
    """A head text reached TEXT_BOUND: read again with shape="rows"."""


@dataclass(frozen=True)
class Span:
    """Samples with first_ms <= ts <= last_ms (both inclusive)."""
    first_ms: int
    last_ms: int

    @classmethod
    def half_open(cls, start_ms: int, end_ms: int) -> "Span":
        """[start, end), as rollups and step buckets see time."""
        return cls(start_ms, end_ms - 1)

    @classmethod
    def left_open(cls, start_ms: int, end_ms: int) -> "Span":
        """(start, end], as PromQL selectors see time."""
        return cls(start_ms + 1, end_ms)


def _series_filter(series_ids: list[int] | None) -> tuple[str, list]:
    if series_ids is None:
        return "", []
    return f" AND series_id IN ({','.join(['%s'] * len(series_ids))})", list(series_ids)


def _bucket_filter(series_ids: list[int] | None) -> tuple[str, list]:
    """The log rows that can hold the series: their buckets (all of them for None, which still
    lets MariaDB range over ix_sample_log_bucket)."""
    buckets = head_log.buckets_of(series_ids)
    return f" AND bucket IN ({','.join(['%s'] * len(buckets))})", buckets


def statements(*, tenant_id: int, series_ids: list[int] | None, span: Span, shape: Shape = "texts",
               timeout_seconds: float | None = None) -> tuple[str, list]:
    """The one statement that reads the span: (sql, params). series_ids None reads every series of
    the tenant. Each row is (series_id, kind, key, subkey, a, b): a chunk's blob, a head group's
    two texts, a head sample's ts and value, or a log row's blob (series_id 0, key its id)."""
    in_series, series_params = _series_filter(series_ids)
    chunk_part = ("SELECT series_id, %s AS kind, window_start AS k, part AS p, data AS a, NULL AS b"
                  " FROM sample_chunks WHERE tenant_id = %s" + in_series +
                  " AND window_start >= %s AND window_start <= %s AND last_ts >= %s AND first_ts <= %s")
    chunk_params = [_CHUNK, tenant_id, *series_params, chunks.window_of(span.first_ms), span.last_ms,
                    span.first_ms, span.last_ms]
    head_where = "tenant_id = %s" + in_series + " AND ts >= %s AND ts <= %s"
    head_params = [tenant_id, *series_params, span.first_ms, span.last_ms]
    if shape != "rows":
        # No ORDER BY in the texts: it made MariaDB sort each group in a tree (~half of a head
        # read's time); both texts follow the same rows, and assemble sorts a group out of order.
        hour = f"ts DIV {_HEAD_GROUP_MS}"
        key, groups = (hour, f"series_id, {hour}") if shape == "texts" else ("0", "series_id")
        head_part = (f"SELECT series_id, %s, {key}, 0, GROUP_CONCAT(ts SEPARATOR ','),"
                     f" GROUP_CONCAT(value SEPARATOR ',') FROM samples WHERE {head_where} GROUP BY {groups}")
        head_params = [_HEAD_TEXT, *head_params]
    else:
        head_part = f"SELECT series_id, %s, ts, 0, ts, value FROM samples WHERE {head_where}"
        head_params = [_HEAD_ROW, *head_params]
    in_buckets, buckets = _bucket_filter(series_ids)
    log_part = f"SELECT 0, %s, id, 0, data, NULL FROM sample_log WHERE tenant_id = %s{in_buckets} AND last_ts >= %s AND first_ts <= %s"
    log_params = [_LOG, tenant_id, *buckets, span.first_ms, span.last_ms]
    options = [f"group_concat_max_len={TEXT_BOUND}"] if shape != "rows" else []
    if timeout_seconds is not None:
        options.append(f"max_statement_time={max(timeout_seconds, 0.001):.3f}")
    prefix = f"SET STATEMENT {', '.join(options)} FOR " if options else ""
    # No ORDER BY: it would sort the union in a temporary table; assemble orders by the key.
    sql = f"{prefix}{chunk_part} UNION ALL {head_part} UNION ALL {log_part}"
    return sql, [*chunk_params, *head_params, *log_params]


def count_statement(*, tenant_id: int, series_ids: list[int] | None, span: Span,
                    timeout_seconds: float | None = None) -> tuple[str, list]:
    """(sql, params) of one row: the samples a read of the span loads, whole chunks counted whole
    (an upper bound: it is a budget). Only the log rows of the series' buckets count, and a log
    row holds many series: it counts at most n × its series_max for a read of n series (no series
    has more in it), so a few series' read is not charged the whole tenant's log when compaction
    lags."""
    in_series, series_params = _series_filter(series_ids)
    in_buckets, buckets = _bucket_filter(series_ids)
    log_share = "sample_count" if series_ids is None else f"LEAST(sample_count, {len(series_ids)} * series_max)"
    prefix = (f"SET STATEMENT max_statement_time={max(timeout_seconds, 0.001):.3f} FOR "
              if timeout_seconds is not None else "")
    sql = (f"{prefix}SELECT (SELECT COALESCE(SUM(sample_count), 0) FROM sample_chunks WHERE tenant_id = %s{in_series}"
           " AND window_start >= %s AND window_start <= %s AND last_ts >= %s AND first_ts <= %s)"
           f" + (SELECT COUNT(*) FROM samples WHERE tenant_id = %s{in_series} AND ts >= %s AND ts <= %s)"
           f" + (SELECT COALESCE(SUM({log_share}), 0) FROM sample_log WHERE tenant_id = %s{in_buckets}"
           " AND last_ts >= %s AND first_ts <= %s)")
    params = [tenant_id, *series_params, chunks.window_of(span.first_ms), span.last_ms, span.first_ms,
              span.last_ms, tenant_id, *series_params, span.first_ms, span.last_ms,
              tenant_id, *buckets, span.first_ms, span.last_ms]
    return sql, params


def shapes_for(counted: int | None) -> tuple[Shape, ...]:
    """The shapes to try in turn for a read of `counted` samples (count_statement's answer; None
    when not counted): rows alone for a small read, else texts (one pair a series up to
    SERIES_TEXT_SAMPLES) and rows if a text reaches its bound."""
    if counted is None or counted > SERIES_TEXT_SAMPLES:
        return ("texts", "rows")
    return ("rows",) if counted <= SMALL_READ_SAMPLES else ("series_texts", "rows")


def assemble(rows: Iterable[tuple], span: Span, *, series_ids: list[int] | None) -> dict[int, Arrays]:
    """(timestamps int64 ascending and unique, values float64) per series with samples in the
    span, from the rows of `statements()` for these series_ids (None: every series), in any order.
    Raises TextBoundReached (read again as rows) and chunks.ChunkError for a corrupt blob."""
    sealed: dict[int, list[tuple[tuple[int, int], bytes]]] = {}
    level0: dict[int, list[tuple[tuple[int, int], Arrays]]] = {}
    head: dict[int, list[tuple[tuple[int, int], Arrays]]] = {}
    head_rows: dict[int, tuple[list, list]] = {}
    log_rows: list[tuple[int, bytes]] = []
    for series_id, kind, key, subkey, a, b in rows:
        if kind == _CHUNK:
            if chunks.is_level0(subkey):
                level0.setdefault(series_id, []).append(((key, subkey), _decoded(series_id, key, subkey, a)))
            else:  # decoded together per series below
                sealed.setdefault(series_id, []).append(((key, subkey), a))
        elif kind == _HEAD_TEXT:
            head.setdefault(series_id, []).append(((key, 0), _ascending(parse_texts(a, b))))
        elif kind == _HEAD_ROW:  # the union makes the timestamp column a blob: its digits come back as bytes
            pair = head_rows.setdefault(series_id, ([], []))
            pair[0].append(int(a))
            pair[1].append(b)
        else:
            log_rows.append((key, a))
    for series_id, (timestamps, values) in head_rows.items():
        ts, vs = np.array(timestamps, dtype=np.int64), np.array(values, dtype=np.float64)
        order = np.argsort(ts, kind="stable")
        head[series_id] = [((0, 0), (ts[order], vs[order]))]
    logged = _log_by_series(log_rows, span, series_ids)
    found = {}
    for series_id in sealed.keys() | head.keys() | level0.keys() | logged.keys():
        newest = [_clipped(pair, span) for pair in _in_order(level0.get(series_id))]
        if series_id in logged:
            newest.append(logged[series_id])
        ts, vs = _combined(_sealed_joined(series_id, sealed.get(series_id)), _in_order(head.get(series_id)), newest,
                           span)
        if ts.size:
            found[series_id] = (ts, vs)
    return found


def _ascending(pair: Arrays) -> Arrays:
    """A head group's samples by time (a series holds one head row per timestamp)."""
    ts, vs = pair
    if ts.size < 2 or np.all(ts[1:] > ts[:-1]):
        return pair
    order = np.argsort(ts, kind="stable")
    return ts[order], vs[order]


def _log_by_series(log_rows: list[tuple[int, bytes]], span: Span, series_ids: list[int] | None) -> dict[int, Arrays]:
    """The log rows' samples in the span, of the series asked for, per series sorted by time with
    one sample per timestamp: the last written (by row id, then position in the row)."""
    if not log_rows:
        return {}
    log_rows.sort(key=lambda row: row[0])
    wanted = None if series_ids is None else np.asarray(series_ids, dtype=np.int64)
    # The rows are of the series' buckets only: filtered once, concatenated (a call per row cost
    # more than the samples of the other series in them).
    columns = [_decoded_log(log_id, blob) for log_id, blob in log_rows]
    sids, ts, vs = _kept(tuple(np.concatenate([column[i] for column in columns]) for i in range(3)), span, wanted)
    if not sids.size:  # rows of the series' buckets, none of their samples
        return {}
    # Reversed, a stable sort by (series, ts) puts the last written of each pair first.
    sids, ts, vs = sids[::-1], ts[::-1], vs[::-1]
    order = np.lexsort((ts, sids))
    sids, ts, vs = sids[order], ts[order], vs[order]
    first = np.concatenate(([True], (sids[1:] != sids[:-1]) | (ts[1:] != ts[:-1])))
    sids, ts, vs = sids[first], ts[first], vs[first]
    edges = np.flatnonzero(np.diff(sids)) + 1
    starts, ends = np.concatenate(([0], edges)), np.concatenate((edges, [sids.size]))
    return {int(sids[start]): (ts[start:end], vs[start:end]) for start, end in zip(starts, ends) if end > start}


def _kept(columns: tuple[np.ndarray, np.ndarray, np.ndarray], span: Span,
          wanted: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log samples in the span, of the series wanted (None: all), before they are sorted."""
    sids, ts, vs = columns
    keep = (ts >= span.first_ms) & (ts <= span.last_ms)
    if wanted is not None:
        keep &= np.isin(sids, wanted)
    return sids[keep], ts[keep], vs[keep]


def _decoded_log(log_id: int, blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return chunks.batch.decode(blob)
    except chunks.ChunkError as exc:
        raise type(exc)(f"log row {log_id}: {exc}") from exc


def _in_order(keyed: list[tuple[tuple[int, int], Arrays]] | None) -> list[Arrays]:
    if not keyed:
        return []
    if len(keyed) > 1:
        keyed.sort(key=lambda item: item[0])
    return [pair for _key, pair in keyed]


def read_series(cursor, *, tenant_id: int, series_ids: list[int] | None, span: Span,
                timeout_seconds: float | None = None, counted: int | None = None) -> dict[int, Arrays]:
    """The samples of the series (every series of the tenant if None) in the span, on a PyMySQL
    cursor; `counted`, the samples count_statement found, lets a small read skip the texts. Safe
    inside the caller's transaction: it only runs one SELECT."""
    if series_ids is not None and not series_ids or span.last_ms < span.first_ms:
        return {}
    for shape in shapes_for(counted):
        sql, params = statements(tenant_id=tenant_id, series_ids=series_ids, span=span, shape=shape,
                                 timeout_seconds=timeout_seconds)
        cursor.execute(sql, params)
        try:
            return assemble(cursor.fetchall(), span, series_ids=series_ids)
        except TextBoundReached:
            continue
    raise AssertionError("unreachable: a read of rows has no text bound")


def parse_texts(ts_text, value_text) -> Arrays:
    """Two GROUP_CONCAT texts (str or bytes) of one group as arrays. Raises TextBoundReached when
    a text reached TEXT_BOUND or was cut (its counts disagree): read that again as rows."""
    timestamps, values = parse_numbers(ts_text, np.int64), parse_numbers(value_text, np.float64)
    if len(timestamps) != len(values):
        raise TextBoundReached()  # a cut text: the counts disagree
    return timestamps, values


def parse_numbers(text, dtype) -> np.ndarray:
    """One GROUP_CONCAT text (str or bytes) of integers (dtype int64) or doubles (float64) as an
    array; the caller compares its length with the group's count (a text cut at the bound has
    fewer numbers). Raises TextBoundReached when the text is missing, reached TEXT_BOUND or ends
    in a cut number. Doubles are parsed as a JSON array: orjson's correctly rounded parser is ten
    times faster than str.split + numpy."""
    if text is None or len(text) >= TEXT_BOUND:
        raise TextBoundReached()
    return numbers_of(text, dtype)


def numbers_of(text, dtype) -> np.ndarray:
    """parse_numbers without the bound check, for texts of several groups joined by commas.
    Raises TextBoundReached when the text ends in a cut number."""
    if dtype is np.int64:
        return np.fromstring(text, dtype=np.int64, sep=",")
    try:
        numbers = orjson.loads(b"[%s]" % (text if isinstance(text, bytes) else text.encode()))
    except orjson.JSONDecodeError:
        raise TextBoundReached() from None
    # fromiter with a count: a third of np.array's time, which inspects every item for its shape
    return np.fromiter(numbers, dtype=np.float64, count=len(numbers))


def _decoded(series_id: int, window_start: int, part: int, blob: bytes) -> Arrays:
    try:
        return chunks.decode(blob)
    except chunks.ChunkError as exc:  # the same class (a version error stays one), naming the chunk
        raise type(exc)(f"the chunk of series {series_id}, window {window_start}, part {part}: {exc}") from exc


def _sealed_joined(series_id: int, keyed: list[tuple[tuple[int, int], bytes]] | None) -> chunks.Joined | None:
    """A series' sealed chunks in (window, part) order, decoded together: one numpy pass for all
    of a day's chunks instead of a dozen small ones each. A corrupt blob is named as _decoded names it."""
    if not keyed:
        return None
    keyed.sort(key=lambda item: item[0])
    try:
        return chunks.decode_joined([blob for _key, blob in keyed])
    except chunks.ChunkError:
        for (window_start, part), blob in keyed:
            _decoded(series_id, window_start, part, blob)  # raises for the corrupt one, naming it
        raise


def _combined(sealed: chunks.Joined | None, head: list[Arrays], newest: list[Arrays], span: Span) -> Arrays:
    """Sealed chunks come in window order and do not overlap (joined, they are ascending); the
    newer parts after them in write order (legacy head groups, then level-0 parts and the log,
    each sorted with one sample per timestamp), each replacing what came before at the same
    timestamp. Once sealed, the parts mostly follow one another in time (a day's chunks, then the
    last minutes in a level-0 part): told from their ends, without comparing every sample."""
    parts = [*head, *newest] if sealed is None else [_clipped_joined(sealed, span), *head, *newest]
    if not parts:
        return _EMPTY
    if len(parts) == 1 and (sealed is None or sealed.ascending):
        return parts[0]
    if not head and (sealed is None or sealed.ascending) and _one_after_another(parts):
        return np.concatenate([pair[0] for pair in parts]), np.concatenate([pair[1] for pair in parts])
    ts = np.concatenate([pair[0] for pair in parts])
    vs = np.concatenate([pair[1] for pair in parts])
    if ts.size < 2 or np.all(ts[1:] > ts[:-1]):  # none at all when the span falls between samples
        return ts, vs
    return _last_written_wins(ts, vs)


def _one_after_another(parts: list[Arrays]) -> bool:
    """Each part (strictly increasing itself) starts after the one before ends (empty ones aside)."""
    ends = [(int(ts[0]), int(ts[-1])) for ts, _vs in parts if ts.size]
    return all(after[0] > before[1] for before, after in zip(ends, ends[1:]))


def _clipped(pair: Arrays, span: Span) -> Arrays:
    ts, vs = pair
    if ts.size and span.first_ms <= ts[0] and ts[-1] <= span.last_ms:
        return pair
    lo, hi = np.searchsorted(ts, span.first_ms, "left"), np.searchsorted(ts, span.last_ms, "right")
    return ts[lo:hi], vs[lo:hi]


def _clipped_joined(joined: chunks.Joined, span: Span) -> Arrays:
    """The joined chunks' samples in the span, as clipping each chunk would leave them."""
    if joined.ascending:
        return _clipped((joined.timestamps, joined.values), span)
    keep = (joined.timestamps >= span.first_ms) & (joined.timestamps <= span.last_ms)  # each chunk is sorted
    return joined.timestamps[keep], joined.values[keep]


def _last_written_wins(ts: np.ndarray, vs: np.ndarray) -> Arrays:
    """Sorted by time, one sample per timestamp: the one latest in the input (the head's)."""
    order = np.argsort(ts[::-1], kind="stable")
    ts, vs = ts[::-1][order], vs[::-1][order]
    keep = np.concatenate(([True], ts[1:] != ts[:-1]))
    return ts[keep], vs[keep]
