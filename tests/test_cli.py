"""The command line, run as users run it: in a subprocess, against the real graph.

While the test session's own embedded server runs, `hub` commands pointed at its data
dir attach to it instead of starting a second server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from hub.domain.workflow import Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.embedded import free_port, pid_alive
from hub.graph.repositories import ComponentRepository, TokenRepository

REPO = Path(__file__).resolve().parents[1]


def run_hub(
    *args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=REPO,
        env={**os.environ, "HUB_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def data_dir(graph_data_dir: Path, graph_connection: GraphConnection) -> Path:
    """The session server's data dir: commands attach to the running server."""
    return graph_data_dir


async def test_token_create_prints_a_working_token(data_dir: Path, graph: Graph) -> None:
    result = run_hub("token", "create", "--user", "carol", "--role", "approver", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    actor = await TokenRepository(graph).authenticate(token)
    assert actor is not None
    assert (actor.user, actor.role, actor.domains) == ("carol", Role.APPROVER, None)


async def test_token_with_domains(data_dir: Path, graph: Graph) -> None:
    result = run_hub(
        "token", "create", "--user", "dana", "--role", "viewer",
        "--domain", "retail", "--domain", "corporate",
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    actor = await TokenRepository(graph).authenticate(result.stdout.strip().splitlines()[-1])
    assert actor is not None
    assert actor.domains == frozenset({"retail", "corporate"})


def test_unknown_role_is_refused(data_dir: Path) -> None:
    result = run_hub("token", "create", "--user", "x", "--role", "overlord", data_dir=data_dir)
    assert result.returncode == 2
    assert "unknown role 'overlord'" in result.stderr
    assert "viewer, editor, approver, admin" in result.stderr


def test_invalid_settings_name_the_variable(data_dir: Path) -> None:
    result = run_hub(
        "token", "create", "--user", "x", "--role", "viewer",
        data_dir=data_dir, env={"HUB_NEO4J__URI": "http://nowhere"},
    )  # fmt: skip
    assert result.returncode == 2
    assert "HUB_NEO4J__URI" in result.stderr


def _bundle(source: str) -> dict[str, object]:
    return {
        "source": source,
        "teams": [{"externalId": "t-net", "name": "Network Operations"}],
        "services": [{"externalId": "svc-a", "name": "A", "tier": "TIER_2", "ownerTeam": "t-net"}],
        "configurationItems": [
            {"externalId": "ci-1", "name": "one", "ciClass": "cmdb_ci_linux_server"}
        ],
        "dependencies": [{"from": "svc-a", "to": "ci-1"}],
    }


async def test_import_is_idempotent_and_reads_yaml(
    data_dir: Path, graph: Graph, source: str, tmp_path: Path
) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(_bundle(source)))
    first = run_hub("import", str(path), data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "services: 1" in first.stdout
    assert "dependencies: 1" in first.stdout
    components = ComponentRepository(graph)
    service_id = await components.lookup(source, "svc-a")
    assert service_id is not None

    yaml_path = tmp_path / "bundle.yaml"
    yaml_path.write_text(yaml.safe_dump(_bundle(source)))
    second = run_hub("import", str(yaml_path), data_dir=data_dir)
    assert second.returncode == 0, second.stderr
    assert await components.lookup(source, "svc-a") == service_id


async def test_invalid_bundle_is_rejected_whole(
    data_dir: Path, graph: Graph, source: str, tmp_path: Path
) -> None:
    bundle = _bundle(source)
    bundle["services"] = [
        {"externalId": "svc-a", "name": "A", "tier": "GOLD"},
        {"externalId": "svc-b", "name": "B", "ownerTeam": "t-missing"},
    ]
    bundle["dependencies"] = [{"from": "svc-a", "to": "ci-nowhere"}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle))
    result = run_hub("import", str(path), data_dir=data_dir)
    assert result.returncode == 1
    assert "services[0].tier" in result.stderr
    assert "nothing was written" in result.stderr
    # Shape errors come first; fix them and the reference errors are all listed.
    bundle["services"] = [
        {"externalId": "svc-a", "name": "A"},
        {"externalId": "svc-b", "name": "B", "ownerTeam": "t-missing"},
    ]
    path.write_text(json.dumps(bundle))
    result = run_hub("import", str(path), data_dir=data_dir)
    assert result.returncode == 1
    assert "services[1].ownerTeam" in result.stderr
    assert "dependencies[0].to" in result.stderr
    components = ComponentRepository(graph)
    assert await components.lookup(source, "ci-1") is None
    assert await components.lookup(source, "svc-a") is None


def test_unparsable_file_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = run_hub("import", str(path), data_dir=data_dir)
    assert result.returncode == 1
    assert f"{path} is not valid JSON: Expecting property name" in result.stderr


async def test_a_file_that_is_not_utf8_is_named_with_the_byte(
    data_dir: Path, graph: Graph, source: str, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.yaml"
    text = yaml.safe_dump(_bundle(source)).replace("Network Operations", "R\u00e9seau")
    path.write_bytes(text.encode("latin-1"))
    position = text.index("\u00e9")

    result = run_hub("import", str(path), data_dir=data_dir)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path} is not UTF-8 text: byte 0xe9 at position {position}" in result.stderr
    assert "nothing was written" in result.stderr
    assert await ComponentRepository(graph).lookup(source, "svc-a") is None


async def test_a_key_given_twice_in_json_is_refused_naming_it(
    data_dir: Path, graph: Graph, source: str, tmp_path: Path
) -> None:
    # Last-wins would import this bundle into the source named second.
    path = tmp_path / "twice.json"
    path.write_text(
        f'{{"source": "{source}-x", "source": "{source}",\n'
        ' "services": [{"externalId": "svc-a", "name": "A", "name": "B"}]}'
    )

    result = run_hub("import", str(path), data_dir=data_dir)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}: key 'source' is given more than once in the top-level object" in result.stderr
    assert f"{path}: key 'name' is given more than once in the object at services[0]" in (
        result.stderr
    )
    assert "nothing was written" in result.stderr
    components = ComponentRepository(graph)
    assert await components.lookup(source, "svc-a") is None
    assert await components.lookup(f"{source}-x", "svc-a") is None


async def test_a_key_given_twice_in_yaml_is_refused_naming_it_and_its_line(
    data_dir: Path, graph: Graph, source: str, tmp_path: Path
) -> None:
    # PyYAML would keep the second list alone: svc-a would be dropped without a word.
    path = tmp_path / "twice.yaml"
    path.write_text(
        f"source: {source}\n"
        "services:\n"
        "  - {externalId: svc-a, name: A}\n"
        "configurationItems:\n"
        "  - {externalId: ci-1, name: one, ciClass: cmdb_ci_linux_server}\n"
        "services:\n"
        "  - {externalId: svc-b, name: B}\n"
    )

    result = run_hub("import", str(path), data_dir=data_dir)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        f"{path}, line 6, column 1: key 'services' is given more than once in one mapping "
        "(first on line 2)"
    ) in result.stderr
    assert "nothing was written" in result.stderr
    components = ComponentRepository(graph)
    assert await components.lookup(source, "svc-b") is None
    assert await components.lookup(source, "ci-1") is None


@pytest.fixture
def served_hub(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """`hub serve --demo` on its own data dir and its own embedded graph server."""
    data_dir = tmp_path / "serve-data"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--port", str(port), "--demo"],
        cwd=REPO,
        env={**os.environ, "HUB_DATA_DIR": str(data_dir)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, port, data_dir
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(port: int, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("hub serve did not become ready")


@pytest.mark.slow
def test_serve_with_demo_then_stop_cleanly(
    served_hub: tuple[subprocess.Popen[str], int, Path],
) -> None:
    process, port, data_dir = served_hub
    _wait_ready(port, process)
    # Another command attaches to the server that `hub serve` runs.
    created = run_hub("token", "create", "--user", "ops", "--role", "viewer", data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    state = json.loads((data_dir / "graph" / "server.json").read_text())
    assert state["owner_pid"] == process.pid

    answer = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": '{ lookup(source: "demo", externalId: "svc-checkout") { id } }'},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["lookup"]["id"].startswith("cmp_")

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "GraphiQL: http://127.0.0.1:" in stderr
    assert "Demo token (viewer)" in stderr
    assert not pid_alive(state["pid"])
    assert not (data_dir / "graph" / "server.json").exists()
