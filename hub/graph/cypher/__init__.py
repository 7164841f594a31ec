"""Every Cypher statement the hub sends, one module per concern.

Statements are module-level `Cypher` constants, so that a test can find each one
and check it with Neo4j's own parser. Values always travel as ``$parameters``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass
from typing import LiteralString


@dataclass(frozen=True, slots=True)
class Cypher:
    """One Cypher statement, written for Neo4j 5 and checked against ArcadeDB."""

    text: LiteralString

    def __str__(self) -> str:
        return self.text


def all_statements() -> dict[str, Cypher]:
    """Every statement defined in this package, keyed ``module.NAME``."""
    found: dict[str, Cypher] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, Cypher):
                found[f"{info.name}.{attribute}"] = value
    return found


@functools.cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name, statement in all_statements().items():
        names.setdefault(statement.text, name)
    return names


def statement_name(statement: Cypher) -> str:
    """The ``module.NAME`` of `statement` (the first, if two constants hold one text),
    or ``unregistered``: a bounded label for metrics and logs, looked up in a table
    built once."""
    return _names().get(statement.text, "unregistered")
