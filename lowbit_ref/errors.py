"""The one error class of lowbit_ref.

Every check at a public function raises ``LowbitError`` with a message that names the
argument, the value received and what is accepted, e.g. ``bits must be one of 1, 2, 4, 8,
got 3``. It subclasses ``ValueError`` so callers that catch ``ValueError`` keep working.
"""


class LowbitError(ValueError):
    """Bad input to a lowbit_ref function; the message says what was wrong and what is accepted."""


def describe(value, limit: int = 60) -> str:
    """A short ``repr`` for error messages, so a huge tensor never floods a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
