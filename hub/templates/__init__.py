"""The agreement templates shipped with the hub, read once from the package data."""

from __future__ import annotations

from functools import cache
from importlib import resources

from hub.domain.documents import parse_data
from hub.domain.templates import AgreementTemplate, parse_templates

FILE = "agreement_templates.yaml"


@cache
def shipped_templates() -> dict[str, AgreementTemplate]:
    """Every shipped template by name (validated: a bad entry fails at first use)."""
    data = resources.files(__name__).joinpath(FILE).read_bytes()
    return parse_templates(parse_data(data, FILE), FILE)
