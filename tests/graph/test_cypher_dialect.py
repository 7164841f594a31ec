"""Every Cypher statement of the hub passes Neo4j's own parser and semantic analysis.

The check runs ``tools/cypher-lint/lint.mjs`` (``@neo4j-cypher/language-support``, pinned)
with Node.js, once for all statements. The tool is not optional: when Node.js or the npm
packages are missing the test fails and says how to install them, it never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from hub.graph.cypher import all_statements

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if p.name == "tests").parent
LINT_DIR = REPO_ROOT / "tools" / "cypher-lint"
LINT_SCRIPT = LINT_DIR / "lint.mjs"
NODE_MODULES = LINT_DIR / "node_modules"
TIMEOUT_S = 600

Diagnostic = dict[str, Any]


def lint(statements: Mapping[str, str]) -> dict[str, list[Diagnostic]]:
    """Lint ``{name: text}`` in one Node.js run; return the statements that have errors."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (`node`) is not on PATH; it is needed to check the Cypher statements.")
    if not (NODE_MODULES / "@neo4j-cypher" / "language-support").is_dir():
        pytest.fail(
            f"{NODE_MODULES} is missing or incomplete: run `make test` "
            f"(it runs `npm ci` in {LINT_DIR.relative_to(REPO_ROOT)})."
        )
    completed = subprocess.run(
        [node, str(LINT_SCRIPT)],
        input=json.dumps(dict(statements)),
        capture_output=True,
        text=True,
        cwd=LINT_DIR,
        timeout=TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            f"lint.mjs exited with {completed.returncode}:\n{completed.stderr}{completed.stdout}"
        )
    report: dict[str, list[Diagnostic]] = json.loads(completed.stdout)
    return report


def describe(statements: Mapping[str, str], report: Mapping[str, list[Diagnostic]]) -> str:
    """Each failing statement's name, text and error messages, for an assertion message."""
    parts: list[str] = []
    for name, diagnostics in sorted(report.items()):
        text = statements.get(name, "<not a statement that was sent>")
        messages = "\n".join(
            f"  - {d['message']} (offsets {d['offsets']['start']}..{d['offsets']['end']})"
            for d in diagnostics
        )
        parts.append(f"{name}:\n{text}\n{messages}")
    return "\n\n".join(parts)


def test_every_statement_is_valid_neo4j_5_cypher() -> None:
    statements = {name: cypher.text for name, cypher in all_statements().items()}
    assert statements, "hub.graph.cypher.all_statements() found no statements to check"

    report = lint(statements)

    assert not report, (
        f"{len(report)} of {len(statements)} Cypher statements have errors:\n\n"
        + describe(statements, report)
    )


def test_the_check_reports_broken_statements() -> None:
    broken = {
        "unclosed_node": "MATCH (n RETURN n",
        "misspelt_keyword": "MATCH (n) RETURN n LIMT 5",
        "undefined_variable": "MATCH (n:Component) RETURN m",
        "misspelt_function": "MATCH (n:Component) RETURN toLowr(n.name) AS name",
        "wrong_arity": "RETURN toLower($a, $b) AS s",
        "removed_exists_syntax": "MATCH (n:Component) WHERE exists(n.id) RETURN n",
        "old_parameter_syntax": "MATCH (n:Component {id: {id}}) RETURN n",
        "two_statements": "RETURN 1 AS a; RETURN 2 AS b",
        "empty": " ",
    }
    valid = {
        "valid_with_parameters": (
            "UNWIND $rows AS row MERGE (c:Component {id: row.id}) "
            "SET c += row.props RETURN count(c) AS n"
        ),
    }

    report = lint({**broken, **valid})

    missed = sorted(set(broken) - set(report))
    assert not missed, f"broken statements not reported: {missed}"
    wrongly = {name: report[name] for name in valid if name in report}
    assert not wrongly, "valid statements were reported:\n\n" + describe(valid, wrongly)
    for name, diagnostics in report.items():
        assert diagnostics, name
        assert all(d["severity"] == 1 and d["message"] for d in diagnostics), diagnostics
