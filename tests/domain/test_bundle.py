"""Import bundle validation: shape first (every problem, with its path), then references."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hub.domain.bundle import (
    Bundle,
    BundleError,
    ConfigurationItemRecord,
    CustomerRecord,
    DependencyRecord,
    ServiceRecord,
    TeamRecord,
    VendorRecord,
    parse_bundle,
    reference_problems,
    referenced_keys,
)
from hub.domain.models import Tier

CONTRACT_EXAMPLE: dict[str, Any] = {
    "source": "manual",
    "teams": [{"externalId": "t-net", "name": "Network Operations"}],
    "vendors": [{"externalId": "v-cloud", "name": "Example Cloud Inc."}],
    "customers": [
        {
            "externalId": "c-retail",
            "name": "Retail BU",
            "businessUnit": "retail",
            "region": "eu",
            "external": False,
        }
    ],
    "services": [
        {
            "externalId": "svc-checkout",
            "name": "Checkout",
            "tier": "TIER_1",
            "businessUnit": "retail",
            "region": "eu",
            "ownerTeam": "t-net",
        }
    ],
    "configurationItems": [
        {
            "externalId": "ci-db1",
            "name": "payments-db-1",
            "ciClass": "cmdb_ci_db_instance",
            "environment": "prod",
            "location": "eu-west-1",
        }
    ],
    "dependencies": [{"from": "svc-checkout", "to": "ci-db1"}],
}


def example(**overrides: Any) -> dict[str, Any]:
    """A deep copy of the contract example, with top-level keys replaced."""
    raw = copy.deepcopy(CONTRACT_EXAMPLE)
    raw.update(overrides)
    return raw


def rejected(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(raw)
    return caught.value.problems


def paths(problems: list[str]) -> list[str]:
    return [problem.partition(": ")[0] for problem in problems]


def service(key: str, **fields: Any) -> dict[str, Any]:
    return {"externalId": key, "name": key.title(), **fields}


def ci(key: str) -> dict[str, Any]:
    return {"externalId": key, "name": key, "ciClass": "cmdb_ci_server"}


# ---- the contract example ------------------------------------------------------


def test_contract_example_parses_into_typed_records() -> None:
    bundle = parse_bundle(CONTRACT_EXAMPLE)
    assert bundle == Bundle(
        source="manual",
        teams=(TeamRecord(external_id="t-net", name="Network Operations"),),
        vendors=(VendorRecord(external_id="v-cloud", name="Example Cloud Inc."),),
        customers=(
            CustomerRecord(
                external_id="c-retail",
                name="Retail BU",
                business_unit="retail",
                region="eu",
                external=False,
            ),
        ),
        services=(
            ServiceRecord(
                external_id="svc-checkout",
                name="Checkout",
                tier=Tier.TIER_1,
                business_unit="retail",
                region="eu",
                owner_team="t-net",
            ),
        ),
        configuration_items=(
            ConfigurationItemRecord(
                external_id="ci-db1",
                name="payments-db-1",
                ci_class="cmdb_ci_db_instance",
                environment="prod",
                location="eu-west-1",
            ),
        ),
        dependencies=(DependencyRecord(from_="svc-checkout", to="ci-db1"),),
    )
    assert reference_problems(bundle) == []
    assert referenced_keys(bundle) == {"t-net", "v-cloud", "c-retail", "svc-checkout", "ci-db1"}


def test_records_dump_back_to_the_camel_case_json_keys() -> None:
    bundle = parse_bundle(CONTRACT_EXAMPLE)
    dumped = bundle.model_dump(by_alias=True, mode="json")
    assert dumped == CONTRACT_EXAMPLE
    assert set(dumped["services"][0]) == {
        "externalId",
        "name",
        "tier",
        "businessUnit",
        "region",
        "ownerTeam",
    }
    assert set(dumped["configurationItems"][0]) == {
        "externalId",
        "name",
        "ciClass",
        "environment",
        "location",
    }
    assert set(dumped["dependencies"][0]) == {"from", "to"}


def test_empty_bundle_defaults_to_the_manual_source() -> None:
    assert parse_bundle({}) == Bundle(source="manual")


def test_optional_fields_default() -> None:
    bundle = parse_bundle(
        {"customers": [{"externalId": "c", "name": "C"}], "services": [service("s")]}
    )
    assert (bundle.customers[0].external, bundle.customers[0].business_unit) == (False, None)
    assert (bundle.services[0].tier, bundle.services[0].owner_team) == (None, None)


def test_agreements_key_is_ignored() -> None:
    raw = example(agreements=[{"anything": "goes", "kind": "NOT_A_KIND"}])
    assert parse_bundle(raw) == parse_bundle(CONTRACT_EXAMPLE)
    assert "agreements" in raw  # the caller's mapping is left alone


@pytest.mark.parametrize("key", ["id", "lineage"])
def test_agreements_naming_a_stored_agreement_are_refused(key: str) -> None:
    """An import never changes an agreement's terms: an entry naming one is refused."""
    raw = example(agreements=[{"key": "new"}, {key: "agr_1", "name": "Renamed"}])
    with pytest.raises(BundleError) as caught:
        parse_bundle(raw)
    assert caught.value.problems == [
        f"agreements[1].{key}: an import never changes an agreement; revise it with "
        "reviseAgreement (a new version, approved by another approver)"
    ]


# ---- shape problems ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (example(widgets=[]), "widgets"),
        (example(teams=[{"externalId": "t", "name": "T", "colour": "red"}]), "teams[0].colour"),
        (example(dependencies=[{"from": "a", "to": "b", "kind": "x"}]), "dependencies[0].kind"),
    ],
)
def test_unknown_keys_are_rejected(raw: dict[str, Any], path: str) -> None:
    problems = rejected(raw)
    assert problems == [f"{path}: Extra inputs are not permitted"]


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (example(source="Not Lower"), "source"),
        (example(source=""), "source"),
        (example(teams=[{"externalId": "", "name": "T"}]), "teams[0].externalId"),
        (example(teams=[{"externalId": " t", "name": "T"}]), "teams[0].externalId"),
        (example(teams=[{"externalId": "t ", "name": "T"}]), "teams[0].externalId"),
        (example(vendors=[{"externalId": "v", "name": ""}]), "vendors[0].name"),
        (
            example(customers=[{"externalId": "c", "name": "C", "external": "maybe"}]),
            "customers[0].external",
        ),
        (
            example(configurationItems=[{"externalId": "c", "name": "C"}]),
            "configurationItems[0].ciClass",
        ),
        (example(dependencies=[{"from": "", "to": "x"}]), "dependencies[0].from"),
        (example(teams="t-net"), "teams"),
    ],
)
def test_malformed_fields_are_named_by_their_path(raw: dict[str, Any], path: str) -> None:
    assert paths(rejected(raw)) == [path]


@pytest.mark.parametrize(
    "raw",
    [
        example(services=[service("svc-checkout", owner_team="t-net")]),
        example(dependencies=[{"from_": "svc-checkout", "to": "ci-db1"}]),
    ],
)
def test_snake_case_keys_are_rejected(raw: dict[str, Any]) -> None:
    rejected(raw)


def test_keys_with_inner_spaces_are_accepted() -> None:
    bundle = parse_bundle(example(teams=[{"externalId": "team net", "name": "T"}]))
    assert bundle.teams[0].external_id == "team net"


def test_every_shape_problem_is_reported_with_its_path() -> None:
    raw = example(
        services=[
            service("svc-a", tier="GOLD"),
            {"externalId": "svc-b"},
            service("svc-c", tier="TIER_2", colour="blue"),
        ],
        configurationItems=[ci("ci-1"), {"externalId": "ci-2", "name": "x", "ciClass": ""}],
        dependencies=[{"from": "svc-a", "to": "ci-1"}, {"from": "svc-a"}],
    )
    problems = rejected(raw)
    assert paths(problems) == [
        "services[0].tier",
        "services[1].name",
        "services[2].colour",
        "configurationItems[1].ciClass",
        "dependencies[1].to",
    ]
    assert problems[0] == (
        "services[0].tier: Input should be 'TIER_1', 'TIER_2', 'TIER_3' or 'TIER_4'"
    )
    assert problems[1] == "services[1].name: Field required"
    assert problems[4] == "dependencies[1].to: Field required"


def test_bundle_error_message_counts_and_lists_the_problems() -> None:
    with pytest.raises(BundleError) as caught:
        parse_bundle(example(source="BAD", widgets=1))
    message = str(caught.value)
    assert message.startswith("the bundle was rejected (2 problems); nothing was written:\n  ")
    assert all(problem in message for problem in caught.value.problems)
    assert str(BundleError(["x: y"])) == (
        "the bundle was rejected (1 problem); nothing was written:\n  x: y"
    )


# ---- reference problems --------------------------------------------------------


def test_every_reference_problem_is_reported_with_its_path() -> None:
    bundle = parse_bundle(
        example(
            teams=[
                {"externalId": "t-net", "name": "Network"},
                {"externalId": "t-net", "name": "Network again"},
            ],
            vendors=[{"externalId": "v", "name": "V"}, {"externalId": "v", "name": "V2"}],
            customers=[{"externalId": "c", "name": "C"}, {"externalId": "c", "name": "C2"}],
            services=[
                service("svc-a", ownerTeam="t-net"),
                service("svc-b", ownerTeam="t-missing"),
                service("svc-a"),
            ],
            configurationItems=[ci("ci-1"), ci("svc-b")],
            dependencies=[
                {"from": "svc-a", "to": "ci-1"},
                {"from": "svc-a", "to": "ci-nowhere"},
                {"from": "ghost", "to": "phantom"},
            ],
        )
    )
    problems = reference_problems(bundle)
    assert paths(problems) == [
        "teams[1].externalId",
        "vendors[1].externalId",
        "customers[1].externalId",
        "services[2].externalId",
        "configurationItems[1].externalId",
        "services[1].ownerTeam",
        "dependencies[1].to",
        "dependencies[2].from",
        "dependencies[2].to",
    ]
    assert problems[0] == "teams[1].externalId: 't-net' already names a Team of this bundle"
    assert problems[5] == (
        "services[1].ownerTeam: no team 't-missing' in this bundle or in source 'manual'"
    )
    assert problems[6] == (
        "dependencies[1].to: 'ci-nowhere' is neither a service nor a configuration item "
        "of this bundle or of source 'manual'"
    )


def test_a_key_names_one_record_whatever_its_kind() -> None:
    same = [{"externalId": "acme", "name": "Acme"}]
    bundle = parse_bundle(
        example(teams=same, vendors=same, customers=same, services=[], dependencies=[])
    )
    assert reference_problems(bundle) == [
        "vendors[0].externalId: 'acme' already names a Team of this bundle",
        "customers[0].externalId: 'acme' already names a Team of this bundle",
    ]


def test_a_record_cannot_change_kind_across_imports() -> None:
    bundle = parse_bundle(example())
    existing = {"svc-checkout": "ConfigurationItem", "t-net": "Team"}
    assert reference_problems(bundle, existing) == [
        "services[0].externalId: 'svc-checkout' already names a ConfigurationItem of source "
        "'manual'; a record cannot change kind"
    ]


def test_owner_team_may_be_a_team_the_graph_already_knows() -> None:
    bundle = parse_bundle(example(teams=[], services=[service("svc-checkout", ownerTeam="t-old")]))
    assert paths(reference_problems(bundle)) == ["services[0].ownerTeam"]
    assert reference_problems(bundle, {"t-old": "Team"}) == []
    assert paths(reference_problems(bundle, {"t-old": "Vendor"})) == ["services[0].ownerTeam"]


def test_owner_team_must_be_a_team_not_a_vendor() -> None:
    bundle = parse_bundle(example(services=[service("svc-checkout", ownerTeam="v-cloud")]))
    assert reference_problems(bundle) == [
        "services[0].ownerTeam: no team 'v-cloud' in this bundle or in source 'manual'"
    ]


def test_dependencies_may_name_components_the_graph_already_knows() -> None:
    bundle = parse_bundle(
        example(dependencies=[{"from": "svc-checkout", "to": "ci-known"}, {"from": "x", "to": "y"}])
    )
    assert {"ci-known", "x", "y"} <= referenced_keys(bundle)
    assert paths(reference_problems(bundle)) == [
        "dependencies[0].to",
        "dependencies[1].from",
        "dependencies[1].to",
    ]
    assert paths(reference_problems(bundle, {"ci-known": "ConfigurationItem"})) == [
        "dependencies[1].from",
        "dependencies[1].to",
    ]
    assert reference_problems(bundle, dict.fromkeys(("ci-known", "x", "y"), "Service")) == []


def test_dependencies_may_not_name_teams_or_customers() -> None:
    bundle = parse_bundle(example(dependencies=[{"from": "svc-checkout", "to": "t-net"}]))
    assert paths(reference_problems(bundle)) == ["dependencies[0].to"]
    assert paths(reference_problems(bundle, {"t-net": "Team"})) == ["dependencies[0].to"]


def test_a_self_loop_is_allowed() -> None:
    bundle = parse_bundle(example(dependencies=[{"from": "ci-db1", "to": "ci-db1"}]))
    assert bundle.dependencies == (DependencyRecord(from_="ci-db1", to="ci-db1"),)
    assert reference_problems(bundle) == []
