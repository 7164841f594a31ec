"""What a token may be issued with: customer tokens name one customer, pusher tokens
their objectives, and neither binding goes with another role."""

from __future__ import annotations

import pytest

from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Role


def fields(spec: TokenSpec) -> list[str]:
    return [problem.field for problem in spec.problems()]


@pytest.mark.parametrize(
    "spec",
    [
        TokenSpec.of("ann", Role.VIEWER),
        TokenSpec.of("ann", Role.ADMIN, domains=["retail"], regions=["eu"], groups=["cab"]),
        TokenSpec.of("portal", Role.CUSTOMER, customer_id="cus_1"),
        TokenSpec.of("probe", Role.PUSHER, objectives=["obj_1", "obj_2"], expires_in_days=30),
    ],
    ids=["viewer", "scoped-admin", "customer", "pusher"],
)
def test_well_formed_tokens_have_no_problems(spec: TokenSpec) -> None:
    assert spec.problems() == []


def test_a_customer_token_needs_its_customer() -> None:
    (problem,) = TokenSpec.of("portal", Role.CUSTOMER).problems()

    assert problem.field == "customer"
    assert "--customer" in problem.message


def test_a_pusher_token_needs_an_objective() -> None:
    (problem,) = TokenSpec.of("probe", Role.PUSHER).problems()

    assert problem.field == "objectives"
    assert "--objective" in problem.message


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN, Role.PUSHER])
def test_only_customer_tokens_name_a_customer(role: Role) -> None:
    spec = TokenSpec.of("x", role, customer_id="cus_1", objectives=["obj_1"])

    assert "customer" in fields(spec)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER, Role.CUSTOMER])
def test_only_pusher_tokens_name_objectives(role: Role) -> None:
    spec = TokenSpec.of("x", role, customer_id="cus_1", objectives=["obj_1"])

    assert "objectives" in fields(spec)


def test_every_problem_is_reported_at_once() -> None:
    spec = TokenSpec.of(" ", Role.VIEWER, domains=[""], customer_id="cus_1", expires_in_days=0)

    assert fields(spec) == ["user", "customer", "domains", "expiresIn"]
