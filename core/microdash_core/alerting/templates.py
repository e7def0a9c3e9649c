"""Annotation templates: ``{{ $value }}`` and ``{{ $labels.name }}``, plain substitution, no evaluation."""

import re

_PLACEHOLDER = re.compile(r"\{\{\s*\$(value|labels\.([a-zA-Z_][a-zA-Z0-9_]*))\s*\}\}")


def format_value(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:g}"


def render(template: str, *, value: float | None, labels: dict[str, str]) -> str:
    """Unknown labels render as ""; anything that is not a placeholder is left as written."""

    def substitute(match: re.Match) -> str:
        if match.group(1) == "value":
            return format_value(value)
        return labels.get(match.group(2), "")

    return _PLACEHOLDER.sub(substitute, template)


def render_all(templates: dict[str, str], *, value: float | None, labels: dict[str, str]) -> dict[str, str]:
    return {name: render(text, value=value, labels=labels) for name, text in templates.items()}
