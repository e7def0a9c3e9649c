"""Silences: a rule, or a set of label matchers, muted until a time."""

from dataclasses import dataclass

from ..matchers import all_match, parse_matchers


@dataclass(frozen=True)
class Silence:
    id: int
    rule_id: int | None
    matchers: tuple[str, ...]
    starts_at: int
    ends_at: int

    def mutes(self, *, rule_id: int, labels: dict[str, str], now_ms: int) -> bool:
        if not self.starts_at <= now_ms < self.ends_at:
            return False
        if self.rule_id is not None and self.rule_id != rule_id:
            return False
        return all_match(parse_matchers(list(self.matchers)), labels)


def is_muted(silences: list[Silence], *, rule_id: int, labels: dict[str, str], now_ms: int) -> bool:
    return any(silence.mutes(rule_id=rule_id, labels=labels, now_ms=now_ms) for silence in silences)
