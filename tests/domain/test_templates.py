"""Agreement templates: the shipped file and how an author's input fills one."""

from __future__ import annotations

from typing import Any

import pytest

from hub.domain.errors import InvalidInputError
from hub.domain.models import AgreementKind, AgreementSpec, Indicator
from hub.domain.templates import TemplateError, fill, parse_templates
from hub.templates import shipped_templates

ENTRY: dict[str, Any] = {
    "name": "small-web",
    "description": "A small web service.",
    "kind": "SLA",
    "objectives": [{"indicator": "AVAILABILITY", "target": 99.5, "window_kind": "CALENDAR_MONTH"}],
    "clauses": [{"kind": "EXCLUSION", "text": "Planned maintenance."}],
    "regulations": ["GDPR"],
}


def test_the_hub_ships_templates_for_four_kinds_of_service() -> None:
    shipped = shipped_templates()

    assert {name: t.kind for name, t in shipped.items()} == {
        "tier-1-web-service": AgreementKind.SLA,
        "internal-platform-service": AgreementKind.OLA,
        "vendor-cloud-iaas": AgreementKind.UC,
        "network-ola": AgreementKind.OLA,
    }
    web = shipped["tier-1-web-service"]
    assert [o.indicator for o in web.objectives] == [
        Indicator.AVAILABILITY,
        Indicator.LATENCY,
        Indicator.RESPONSE_TIME,
        Indicator.RESOLUTION_TIME,
    ]
    assert shipped["internal-platform-service"].support_hours is not None


def test_a_template_is_an_entry_of_the_data() -> None:
    found = parse_templates({"templates": [ENTRY]}, "t.yaml")

    assert list(found) == ["small-web"]
    assert found["small-web"].regulations == ("GDPR",)


def test_bad_entries_are_named_with_every_problem() -> None:
    bad = {**ENTRY, "name": "Bad Name", "objectives": []}

    with pytest.raises(TemplateError) as caught:
        parse_templates({"templates": [ENTRY, bad, ENTRY]}, "t.yaml")

    message = str(caught.value)
    assert "t.yaml: templates.1.name:" in message
    assert "t.yaml: templates.1.objectives:" in message
    assert "t.yaml: templates.2.name: 'small-web' is given twice" in message


def values(**given: Any) -> dict[str, Any]:
    return {
        "kind": AgreementKind.SLA,
        "name": "Shop SLA",
        "covers": ("cmp_1",),
        "customer_id": "cus_1",
        "objectives": (),
        **given,
    }


def test_an_empty_input_takes_the_templates_terms() -> None:
    template = parse_templates({"templates": [ENTRY]}, "t.yaml")["small-web"]

    spec = AgreementSpec.model_validate(fill(template, values()))

    assert [(o.indicator, o.target) for o in spec.objectives] == [(Indicator.AVAILABILITY, 99.5)]
    assert [c.text for c in spec.clauses] == ["Planned maintenance."]
    assert spec.regulations == ("GDPR",)


def test_what_the_author_gives_overrides_the_template() -> None:
    template = parse_templates({"templates": [ENTRY]}, "t.yaml")["small-web"]
    own = {"indicator": "AVAILABILITY", "target": 99.9, "window_kind": "CALENDAR_MONTH"}

    spec = AgreementSpec.model_validate(
        fill(template, values(objectives=(own,), regulations=("SOX",)))
    )

    assert [o.target for o in spec.objectives] == [99.9]
    assert spec.regulations == ("SOX",)


def test_a_template_fills_only_its_own_kind() -> None:
    template = parse_templates({"templates": [ENTRY]}, "t.yaml")["small-web"]

    with pytest.raises(InvalidInputError) as caught:
        fill(template, values(kind=AgreementKind.OLA))

    assert [p.field for p in caught.value.problems] == ["input.kind"]
