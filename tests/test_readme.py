"""The README's example queries, run against the demo: the answers shown are real."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.demo import load_demo
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph
from hub.schema import build_schema
from hub.schema.context import Context
from hub.settings import ApiSettings

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = re.compile(r"```graphql\n(?P<query>.*?)```\s*```json\n(?P<answer>.*?)```", re.DOTALL)


def examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (match["query"], json.loads(match["answer"]))
        for match in EXAMPLE.finditer(README.read_text())
    ]


def test_the_readme_has_three_examples() -> None:
    assert len(examples()) >= 3


@pytest.mark.parametrize(("query", "answer"), examples())
async def test_example_answers_are_what_the_hub_says(
    graph: Graph, query: str, answer: dict[str, Any]
) -> None:
    await load_demo(graph)
    context = Context.create(graph, Actor(user="readme", role=Role.VIEWER), ApiSettings())
    result = await build_schema().execute(query, context_value=context)
    assert result.errors is None
    assert {"data": result.data} == answer
