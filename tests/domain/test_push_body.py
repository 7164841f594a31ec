"""Reading a push body (hub.domain.push.parse_body): the fast reading of plainly valid
bodies must read them exactly as the contract's models do, and leave every other body
to the models, whose verdict and errors stand."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.domain.push import PushBody, PushBodyError, PushBodyModel, PushKind, parse_body

times = st.one_of(
    st.sampled_from(["2026-03-09T10:00:00Z", "2026-03-09T11:00:00+01:00", "t", ""]),
    st.text(max_size=70),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.none(),
)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.just("1"),
)
units = st.one_of(st.sampled_from(["ms", "s", "us", "ns", "MS"]), st.none(), st.just([1]))
fields = st.sampled_from(["time", "good", "total", "value", "unit", "extra"])


@st.composite
def points(draw: st.DrawFn) -> Any:
    shape = draw(st.sampled_from(["counts", "value", "value+unit", "any", "not a map"]))
    if shape == "not a map":
        return draw(st.one_of(st.integers(0, 9), st.lists(st.integers(0, 9), max_size=2)))
    point: dict[str, Any] = {"time": draw(times)}
    if shape == "counts":
        point |= {"good": draw(numbers), "total": draw(numbers)}
    elif shape.startswith("value"):
        point["value"] = draw(numbers)
        if shape == "value+unit":
            point["unit"] = draw(units)
    else:
        for name in draw(st.lists(fields, max_size=4, unique=True)):
            point[name] = draw(st.one_of(numbers, units, times))
    return point


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objective": draw(st.one_of(st.sampled_from(["obj_1", "svc/name", ""]), st.integers(0, 9))),
        "points": draw(st.lists(points(), max_size=5)),
    }
    if draw(st.booleans()):
        body["unit"] = draw(units)
    if draw(st.booleans()):
        body.pop(draw(st.sampled_from(["objective", "points"])))
    if not draw(st.integers(min_value=0, max_value=9)):
        body["extra"] = 1
    return body


def same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True)
    )


def by_models(value: dict[str, Any]) -> PushBody | None:
    """The body as the contract's models read it; None when they refuse it."""
    try:
        return PushBody.of_model(PushBodyModel.model_validate(value))
    except ValidationError:
        return None


@settings(max_examples=400, deadline=None)
@given(bodies())
def test_every_body_is_read_as_the_contracts_models_read_it(value: dict[str, Any]) -> None:
    expected, raw = by_models(value), orjson.dumps(value)
    if expected is None:
        with pytest.raises(PushBodyError):
            parse_body(raw)
        return

    read = parse_body(raw)

    assert (read.objective, read.kind, read.times) == (
        expected.objective,
        expected.kind,
        expected.times,
    )
    for ours, theirs in zip(read.columns, expected.columns, strict=True):
        assert same(ours, theirs), value
    assert [read.payload(n) for n in range(len(read.times))] == expected.points


def test_the_models_explain_what_the_fast_reading_declines() -> None:
    raw = b'{"objective": "o", "points": [{"time": "t", "good": true, "total": 1}]}'

    with pytest.raises(PushBodyError) as refused:
        parse_body(raw)

    [problem] = refused.value.problems
    assert (problem.field, problem.message) == ("points.0.good", "Input should be a valid number")


def test_a_plain_body_becomes_columns() -> None:
    body = parse_body(
        b'{"objective": "o", "unit": "ms", "points": [{"time": "2026-03-09T10:00:00Z", '
        b'"value": 250}, {"time": "2026-03-09T10:01:00Z", "value": 2, "unit": "s"}]}'
    )

    assert body.kind is PushKind.LATENCY
    assert body.times == ["2026-03-09T10:00:00Z", "2026-03-09T10:01:00Z"]
    assert body.seconds == [0.25, 2.0]
    assert all(math.isnan(g) for g in body.good)
    assert body.payload(1) == {"time": "2026-03-09T10:01:00Z", "value": 2.0, "unit": "s"}
