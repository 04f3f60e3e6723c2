"""One exception type for every bad input, so the CLI can print one line and exit 2."""
from __future__ import annotations

MAX_SHOWN = 120  # characters of a user's value echoed in an error (a 100 KB arch string is not echoed whole)


class HarnessError(Exception):
    """A user-facing problem (bad file, name, value, limit). The message is one line and names the culprit."""

    exit_code = 2


class BudgetExhausted(HarnessError):
    """A method asked for more distinct evaluations (or hardware measurements) than its budget allows."""


def shown(value, limit: int = MAX_SHOWN) -> str:
    """repr() of a user's value, cut to `limit` characters with the full length said."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def one_line(text: str, limit: int = 2000) -> str:
    """Collapse whitespace (newlines of library messages) so an error stays one line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def unknown_name(kind: str, name, valid) -> HarnessError:
    """The error for an unknown dataset/device/method/solver/variant, listing what is valid."""
    return HarnessError(f"unknown {kind} {shown(name)}; valid: {', '.join(sorted(map(str, valid)))}")
