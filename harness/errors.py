"""One exception type for every bad input, so the CLI can print one line and exit 2."""


class HarnessError(Exception):
    """A user-facing problem (bad file, name, value, limit). The message is one line and names the culprit."""

    exit_code = 2


def unknown_name(kind: str, name: str, valid) -> HarnessError:
    """The error for an unknown dataset/device/method/solver/variant, listing what is valid."""
    return HarnessError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(map(str, valid)))}")
