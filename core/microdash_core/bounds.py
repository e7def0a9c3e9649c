"""Bounds on what users write: the ranges the database columns hold and the characters a name may
carry. Checked at every edge that accepts input (API models, the operator's rule specs), so a bad
value is refused with a clear message instead of failing in MariaDB or in a mail header."""

import re

# Epoch milliseconds up to the end of year 9999: far past any real time, far below BIGINT's end.
MAX_EPOCH_MS = 253_402_300_799_999
MAX_INT_UNSIGNED = 2**32 - 1
MAX_BIGINT = 2**63 - 1
# A MariaDB TEXT column holds 65,535 bytes; JSON documents stored in one are kept well below.
MAX_JSON_TEXT_BYTES = 60_000

# C0 and C1 control characters, DEL, the Unicode line and paragraph separators, and lone
# surrogates (no UTF-8 encoding): a CR/LF in a name would split a mail header, the rest corrupt
# logs and displays. Multi-line text (annotations, comments) may keep tab, LF and CR.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def has_control_characters(text: str, *, multiline: bool = False) -> bool:
    return (_CONTROL_BUT_LINE_BREAKS if multiline else _CONTROL).search(text) is not None
