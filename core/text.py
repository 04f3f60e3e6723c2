"""Plain-text renderers shared by the CLI and the reports (so neither imports the other)."""
from __future__ import annotations

import json
import math

import numpy as np


def plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def print_json(obj) -> None:
    print(json.dumps(plain(obj), indent=2))


def fmt_value(v, digits: int = 4) -> str:
    """A number for people: None/NaN as an em dash, floats to `digits` significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def with_unit(v, unit: str, digits: int = 4) -> str:
    text = fmt_value(v, digits)
    return text if text == "—" or not unit else f"{text} {unit}"


def markdown_table(rows: list[dict], columns, formats: dict | None = None) -> str:
    """A GitHub Markdown table of `rows` (dicts) over `columns`; `|` inside cells is escaped."""
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [formats.get(c, fmt_value)(r.get(c)) for c in columns]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def plain_table(rows: list[dict], columns, formats: dict | None = None, gap: int = 2) -> str:
    """Aligned columns for a terminal (no escaping, widths from the content)."""
    formats = formats or {}
    body = [[str(formats.get(c, fmt_value)(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(str(c))] + [len(b[i]) for b in body]) for i, c in enumerate(columns)]
    sep = " " * gap
    lines = [sep.join(str(c).ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += [sep.join(v.ljust(w) for v, w in zip(b, widths)).rstrip() for b in body]
    return "\n".join(lines)
