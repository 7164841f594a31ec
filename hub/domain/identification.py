"""Which records of different sources describe one configuration item, and which
source's attributes win. Pure rules; the graph applies them (`SyncRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

IdentifyingAttribute = Literal["serial_number", "fqdn"]

DEFAULT_ATTRIBUTES: tuple[IdentifyingAttribute, ...] = ("serial_number", "fqdn")
DEFAULT_PRECEDENCE: tuple[str, ...] = ("servicenow", "pagerduty", "jira", "manual")


@dataclass(frozen=True, slots=True)
class Identification:
    """`attributes`: a new record that matches an existing component of another source
    on the first of these it has becomes a second ref of that component.
    `precedence`: sources whose attributes win, first the strongest; others come last."""

    attributes: tuple[IdentifyingAttribute, ...] = DEFAULT_ATTRIBUTES
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE

    def rank(self, source: str) -> int:
        """Lower ranks win; a source that is not listed ranks after every listed one."""
        try:
            return self.precedence.index(source)
        except ValueError:
            return len(self.precedence)

    @classmethod
    def of(
        cls, attributes: Sequence[IdentifyingAttribute], precedence: Sequence[str]
    ) -> Identification:
        return cls(tuple(attributes), tuple(precedence))
