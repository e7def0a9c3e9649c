"""The on-disk mirror of the buffer: append-only JSON-lines segments plus a cursor file.

Layout of the spool directory:
  segment-<seq>.jsonl  samples, one JSON object a line, in the order they were buffered
  cursor               "<seq> <n>": segments before <seq> are gone, and the first <n> valid lines of
                       segment <seq> were already sent

Segments are never appended to after a restart, so a line torn by a crash stays torn and is
skipped the same way at every load; counting only valid lines keeps the cursor meaningful.
Appends are flushed and fsynced; the cursor is not, which can only mean a few samples sent twice.
"""

import json
import os
from collections import deque
from pathlib import Path

CURSOR = "cursor"
SEGMENT_PREFIX = "segment-"


class Spool:
    def __init__(self, directory: Path, *, segment_lines: int = 10_000):
        self.directory = Path(directory)
        self.segment_lines = segment_lines
        self._segments: deque[list[int]] = deque()  # [seq, valid lines], oldest first
        self._consumed_in_oldest = 0
        self._next_seq = 0
        self._file = None

    def load(self) -> list[str]:
        """Unsent samples left by earlier runs, oldest first; later appends go to a new segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        cursor_seq, consumed = self._read_cursor()
        self._next_seq = cursor_seq
        unsent: list[str] = []
        for seq, path in self._segment_files():
            if seq < cursor_seq:
                path.unlink()
                continue
            lines = _valid_lines(path)
            skip = consumed if seq == cursor_seq else 0
            unsent.extend(lines[skip:])
            self._segments.append([seq, len(lines)])
            self._next_seq = seq + 1
        if self._segments and self._segments[0][0] == cursor_seq:
            self._consumed_in_oldest = consumed
        self._drop_consumed_segments(keep_newest=False)
        return unsent

    def append(self, samples: list[str]) -> None:
        if not samples:
            return
        if self._file is None or self._segments[-1][1] >= self.segment_lines:
            self._open_new_segment()
        self._file.write("".join(sample + "\n" for sample in samples))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._segments[-1][1] += len(samples)

    def consume(self, count: int) -> None:
        while count > 0 and self._segments:
            left_in_oldest = self._segments[0][1] - self._consumed_in_oldest
            step = min(count, left_in_oldest)
            self._consumed_in_oldest += step
            count -= step
            if not self._drop_consumed_segments(keep_newest=self._file is not None) and step == 0:
                break
        self._write_cursor()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open_new_segment(self) -> None:
        self.close()
        seq = self._next_seq
        self._next_seq += 1
        self._file = open(self._segment_path(seq), "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._segments.append([seq, 0])

    def _drop_consumed_segments(self, *, keep_newest: bool) -> bool:
        """Delete fully sent segments (not the one being written); True if any was deleted."""
        dropped = False
        while self._segments and self._consumed_in_oldest >= self._segments[0][1]:
            if keep_newest and len(self._segments) == 1:
                break
            seq, _ = self._segments.popleft()
            self._segment_path(seq).unlink(missing_ok=True)
            self._consumed_in_oldest = 0
            dropped = True
        return dropped

    def _segment_files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"{SEGMENT_PREFIX}*.jsonl"):
            digits = path.stem.removeprefix(SEGMENT_PREFIX)
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found)

    def _segment_path(self, seq: int) -> Path:
        return self.directory / f"{SEGMENT_PREFIX}{seq:012d}.jsonl"

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seq, consumed = (self.directory / CURSOR).read_text().split()
            return int(seq), int(consumed)
        except (OSError, ValueError):
            return 0, 0

    def _write_cursor(self) -> None:
        seq = self._segments[0][0] if self._segments else self._next_seq
        temporary = self.directory / f"{CURSOR}.tmp"
        temporary.write_text(f"{seq} {self._consumed_in_oldest}")
        os.replace(temporary, self.directory / CURSOR)


def _valid_lines(path: Path) -> list[str]:
    valid = []
    with open(path, encoding="utf-8", errors="replace") as segment:
        for line in segment:
            if line.endswith("\n") and _is_json_object(line):
                valid.append(line[:-1])
    return valid


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
