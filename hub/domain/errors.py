"""Errors that describe what the user asked for, field by field."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

QUOTE_LIMIT = 80


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`value` quoted for a message, as `repr` does, but cut to about `limit` characters:
    an error message or log line echoing what a client sent stays short whatever the
    client sent (a 1 MB cursor is not worth repeating).

    >>> quoted("abc")
    "'abc'"
    >>> quoted("x" * 1000, limit=10)
    "'xxxxxxxxxx'... (1,000 characters)"
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInputError(Exception):
    """Input that cannot be accepted; nothing was written. Each problem names its field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems

    def prefixed(self, prefix: str) -> InvalidInputError:
        """The same problems with `prefix` before each field (e.g. the argument name)."""
        return InvalidInputError([FieldProblem(prefix + p.field, p.message) for p in self.problems])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> InvalidInputError:
        problems = []
        for error in exc.errors():
            path = ".".join(
                to_camel(part) if isinstance(part, str) else str(part) for part in error["loc"]
            )
            message = str(error["msg"]).removeprefix("Value error, ")
            # Model-level rules name their field at the start of the message.
            field, sep, rest = message.partition(": ")
            if sep and " " not in field:
                path = f"{path}.{field}" if path else field
                message = rest
            problems.append(
                FieldProblem(f"{prefix}{path}" if path else prefix.rstrip("."), message)
            )
        return cls(problems)
