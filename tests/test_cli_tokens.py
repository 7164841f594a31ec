"""`hub token create|list|revoke` and `hub audit verify`, run as users run them: in a
subprocess, against the real graph (the session's server, or a database of its own
for a chain that was tampered with)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from audit_support import PrivateGraph, private_graph
from support import GraphBuilder, load
from test_cli import run_hub

from hub.domain.models import AgreementKind, Indicator, ObjectiveSpec, WindowKind
from hub.domain.tokens import TokenSpec
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.migrations import migrate
from hub.graph.repositories import AuditRepository, TokenRepository
from hub.graph.repositories.identity import hash_token


@pytest.fixture
def data_dir(graph_data_dir: Path, graph_connection: GraphConnection) -> Path:
    """The session server's data dir: commands attach to the running server."""
    return graph_data_dir


def created(stdout: str) -> tuple[str, str]:
    """The id and the token `hub token create` printed (the token on the last line)."""
    lines = stdout.strip().splitlines()
    (id_line,) = [line for line in lines if line.startswith("id: ")]
    return id_line.removeprefix("id: "), lines[-1]


def listed(stdout: str, token_id: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"{token_id} ")]
    return line


async def test_create_list_and_revoke(data_dir: Path, graph: Graph) -> None:
    user = f"sam-{uuid.uuid4().hex[:8]}"
    result = run_hub(
        "token", "create", "--user", user, "--role", "approver",
        "--domain", "retail", "--region", "eu", "--region", "uk", "--group", "cab",
        "--expires-in", "30",
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token_id, token = created(result.stdout)
    assert token_id.startswith("tok_")
    assert token.startswith("hub_")
    actor = await TokenRepository(graph).authenticate(token)
    assert actor == Actor(
        user=user,
        role=Role.APPROVER,
        domains=frozenset({"retail"}),
        regions=frozenset({"eu", "uk"}),
        groups=frozenset({"cab"}),
        token_id=token_id,
    )

    before = run_hub("token", "list", data_dir=data_dir)
    revoked = run_hub("token", "revoke", token_id, data_dir=data_dir)
    after = run_hub("token", "list", data_dir=data_dir)

    assert before.returncode == 0, before.stderr
    line = listed(before.stdout, token_id)
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    assert {name: fields[name] for name in ("user", "role", "domains", "regions", "groups")} == {
        "user": user,
        "role": "approver",
        "domains": "retail",
        "regions": "eu,uk",
        "groups": "cab",
    }
    assert fields["expires"].endswith("Z")
    assert fields["revoked"] == "no"
    # Never the token, nor its hash.
    assert token not in before.stdout
    assert hash_token(token) not in before.stdout
    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked {token_id}" in revoked.stdout
    assert listed(after.stdout, token_id).endswith("revoked=yes")
    assert await TokenRepository(graph).authenticate(token) is None
    trail = await AuditRepository(graph).for_target(token_id)
    assert [(r.action, r.actor) for r in trail] == [
        ("token.create", "cli"),
        ("token.revoke", "cli"),
    ]


async def test_a_token_without_options_is_unlimited_and_never_expires(
    data_dir: Path, graph: Graph
) -> None:
    result = run_hub("token", "create", "--user", "una", "--role", "viewer", data_dir=data_dir)

    assert result.returncode == 0, result.stderr
    token_id, _ = created(result.stdout)
    assert "expires: never" in result.stdout
    line = listed(run_hub("token", "list", data_dir=data_dir).stdout, token_id)
    assert "domains=all regions=all groups=- expires=never revoked=no" in line


def test_revoking_an_unknown_token_fails_naming_it(data_dir: Path) -> None:
    result = run_hub("token", "revoke", "tok_nothing", data_dir=data_dir)

    assert result.returncode == 1
    assert "no token has the id 'tok_nothing'" in result.stderr
    assert "hub token list" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--role", "customer"], "a customer token needs --customer"),
        (["--role", "viewer", "--customer", "cus_x"], "--customer binds customer tokens only"),
        (
            ["--role", "customer", "--customer", "cus_a", "--customer", "cus_b"],
            "give --customer once",
        ),
        (["--role", "pusher"], "a pusher token needs at least one --objective"),
        (["--role", "editor", "--objective", "obj_x"], "--objective is for pusher tokens only"),
        (["--role", "viewer", "--expires-in", "0"], "give a number of days of 1 or more"),
        (["--role", "customer", "--customer", "cus_missing"], "no customer with id 'cus_missing'"),
        (["--role", "pusher", "--objective", "obj_missing"], "no objective with id 'obj_missing'"),
    ],
    ids=[
        "customer-without-customer",
        "customer-for-viewer",
        "two-customers",
        "pusher-without-objective",
        "objective-for-editor",
        "expires-in-zero",
        "unknown-customer",
        "unknown-objective",
    ],
)
def test_bad_usage_exits_2_saying_what_to_fix(
    data_dir: Path, options: list[str], message: str
) -> None:
    result = run_hub("token", "create", "--user", "x", *options, data_dir=data_dir)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


async def test_groups_are_the_configured_approval_groups(data_dir: Path, graph: Graph) -> None:
    """With `policy.groups` set, a token carries only those (a typo would never sign)."""
    env = {"HUB_POLICY__GROUPS": '["it", "legal"]'}
    user = f"lena-{uuid.uuid4().hex[:8]}"
    options = ["token", "create", "--user", user, "--role", "approver"]

    refused = run_hub(*options, "--group", "legal", "--group", "lgeal", data_dir=data_dir, env=env)
    accepted = run_hub(*options, "--group", "legal", data_dir=data_dir, env=env)

    assert refused.returncode == 2
    assert "unknown approval group 'lgeal'; policy.groups names it, legal" in refused.stderr
    assert refused.stdout == ""
    assert accepted.returncode == 0, accepted.stderr
    actor = await TokenRepository(graph).authenticate(created(accepted.stdout)[1])
    assert actor is not None
    assert actor.groups == frozenset({"legal"})


async def test_customer_and_pusher_tokens_bind_what_exists(
    data_dir: Path, graph: Graph, builder: GraphBuilder
) -> None:
    ids, author = await load(builder, [("svc", "db")], services=["svc"])
    agreement_id = await author(
        AgreementKind.SLA,
        "SLA",
        ["svc"],
        [
            ObjectiveSpec(
                indicator=Indicator.AVAILABILITY, target=99.9, window_kind=WindowKind.CALENDAR_MONTH
            )
        ],
    )
    (objective,) = (await author.repository.objectives_by_agreement_ids([agreement_id]))[
        agreement_id
    ]

    customer = run_hub(
        "token", "create", "--user", "portal", "--role", "customer",
        "--customer", ids["cust-1"], data_dir=data_dir,
    )  # fmt: skip
    pusher = run_hub(
        "token", "create", "--user", "probe", "--role", "pusher",
        "--objective", objective.id, data_dir=data_dir,
    )  # fmt: skip

    assert customer.returncode == 0, customer.stderr
    assert pusher.returncode == 0, pusher.stderr
    tokens = TokenRepository(graph)
    as_customer = await tokens.authenticate(created(customer.stdout)[1])
    as_pusher = await tokens.authenticate(created(pusher.stdout)[1])
    assert as_customer is not None
    assert as_pusher is not None
    assert (as_customer.role, as_customer.customer_id) == (Role.CUSTOMER, ids["cust-1"])
    assert (as_pusher.role, as_pusher.objectives) == (Role.PUSHER, frozenset({objective.id}))
    line = listed(run_hub("token", "list", data_dir=data_dir).stdout, created(pusher.stdout)[0])
    assert f"objectives={objective.id}" in line


def test_audit_verify_passes_on_an_intact_chain(data_dir: Path) -> None:
    result = run_hub("audit", "verify", data_dir=data_dir)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit chain intact: ")
    assert "head sequence" in result.stdout


@pytest.fixture
async def private(
    graph_data_dir: Path, graph_connection: GraphConnection
) -> AsyncIterator[PrivateGraph]:
    async with private_graph(graph_data_dir, graph_connection) as private:
        await migrate(private.graph)
        yield private


async def test_audit_verify_names_the_first_broken_record(
    data_dir: Path, private: PrivateGraph
) -> None:
    tokens = TokenRepository(private.graph)
    for index in range(3):
        await tokens.issue(TokenSpec.of(f"user-{index}", Role.VIEWER))
    second = await private.record(2)
    await private.run("MATCH (r:AuditRecord {sequence: 2}) SET r.reason = 'hushed up'")

    result = run_hub("audit", "verify", data_dir=data_dir, env=private.env())

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: audit chain broken: record {second['id']} (sequence 2) was edited: "
        "its values do not match its hash"
    )
