"""The served GraphQL schema keeps the public contract and matches its checked-in print.

`../shared/contract/hub.graphql`, `service-levels.graphql` and `governance.graphql` (which
extend it; the files are built together) are the minimum portals and scripts rely on:
the served schema may add to them but never break them (graphql-core's
`find_breaking_changes` decides). `docs/schema.graphql` is the served schema as
printed, so that every schema change shows up in review as a diff of that file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import BreakingChangeType, GraphQLSchema, find_breaking_changes
from graphql import build_schema as parse_sdl

from hub.schema import build_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_DIR = REPO_ROOT.parent / "shared" / "contract"
CONTRACT_FILES = tuple(
    CONTRACT_DIR / name for name in ("hub.graphql", "service-levels.graphql", "governance.graphql")
)
SNAPSHOT = REPO_ROOT / "docs" / "schema.graphql"


def served_sdl() -> str:
    return build_schema().as_str()


def contract_schema() -> GraphQLSchema:
    missing = [str(path) for path in CONTRACT_FILES if not path.is_file()]
    if missing:
        pytest.fail(
            f"the public contract {', '.join(missing)} is missing; it lives in the shared "
            "checkout next to this repository (shared/contract/)"
        )
    return parse_sdl("\n".join(path.read_text(encoding="utf-8") for path in CONTRACT_FILES))


def test_served_schema_keeps_the_public_contract() -> None:
    breaking = find_breaking_changes(contract_schema(), parse_sdl(served_sdl()))

    assert [change.description for change in breaking] == []


def test_docs_schema_is_the_served_schema() -> None:
    expected = served_sdl() + "\n"  # what `python -m hub.schema` prints

    snapshot = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.is_file() else None

    assert snapshot == expected, (
        f"{SNAPSHOT.relative_to(REPO_ROOT)} is not the served schema; regenerate it with "
        "`python -m hub.schema > docs/schema.graphql` and review the diff"
    )


def test_the_contract_includes_the_service_level_part() -> None:
    contract = contract_schema()

    assert "rootCause" in contract.query_type.fields  # type: ignore[union-attr]
    assert "status" in contract.get_type("Objective").fields  # type: ignore[union-attr]


def test_the_contract_includes_the_governance_part() -> None:
    contract = contract_schema()

    assert "agreementAsOf" in contract.query_type.fields  # type: ignore[union-attr]
    assert "effectiveObjectives" in contract.get_type("ServiceLevelAgreement").fields  # type: ignore[union-attr]


def test_the_contract_check_catches_a_removed_field() -> None:
    sdl = served_sdl()
    # Drop `truncated: Boolean!` (and its description, if any) from DependencyChain.
    chain = re.search(r"type DependencyChain \{.*?\n\}", sdl, flags=re.DOTALL)
    assert chain is not None
    without_field = re.sub(
        r'\n(?:  """[^"]*"""\n)?  truncated: Boolean!', "", chain.group(0), count=1
    )
    assert without_field != chain.group(0)
    broken = sdl.replace(chain.group(0), without_field)

    breaking = find_breaking_changes(contract_schema(), parse_sdl(broken))

    assert [(change.type, change.description) for change in breaking] == [
        (BreakingChangeType.FIELD_REMOVED, "Field DependencyChain.truncated was removed.")
    ]
