"""Reading JSON and YAML strictly: repeated keys, bytes that are not UTF-8 and deep
nesting are errors naming the file and the place, never a value silently dropped."""

from __future__ import annotations

import pytest

from hub.domain.bundle import BundleError, bundle_data
from hub.domain.documents import DocumentError, parse_data, parse_yaml_documents
from hub.domain.errors import InvalidInputError
from hub.domain.openslo import parse_documents


def problems(data: bytes, name: str) -> list[str]:
    with pytest.raises(DocumentError) as raised:
        parse_data(data, name)
    return raised.value.problems


def test_json_keys_given_twice_are_each_named_with_the_object_they_are_in() -> None:
    text = (
        b'{"source": "x", "source": "demo",\n'
        b' "services": [{"externalId": "a"}, {"name": "A", "name": "B", "tier": {"t": 1, "t": 2}}]}'
    )

    assert problems(text, "b.json") == [
        "b.json: key 'source' is given more than once in the top-level object; give each key once",
        "b.json: key 'name' is given more than once in the object at services[1]; "
        "give each key once",
        "b.json: key 't' is given more than once in the object at services[1].tier; "
        "give each key once",
    ]


def test_yaml_keys_given_twice_are_named_with_their_lines() -> None:
    text = b"source: x\nservices:\n  - externalId: a\nteams: []\nservices:\n  - externalId: b\n"

    assert problems(text, "b.yaml") == [
        "b.yaml, line 5, column 1: key 'services' is given more than once in one mapping "
        "(first on line 2); give each key once"
    ]
    nested = b"services:\n  - externalId: a\n    name: A\n    name: B\n"
    assert "line 4, column 5: key 'name'" in problems(nested, "n.yml")[0]


def test_yaml_merge_keys_may_still_be_overridden() -> None:
    text = b"base: &base {tier: TIER_2, name: base}\nsvc:\n  <<: *base\n  name: mine\n"

    assert parse_data(text, "merge.yaml") == {
        "base": {"tier": "TIER_2", "name": "base"},
        "svc": {"tier": "TIER_2", "name": "mine"},
    }


def test_bytes_that_are_not_utf8_are_named_by_position() -> None:
    text = "teams:\n  - name: Réseau\n".encode("latin-1")

    [problem] = problems(text, "latin1.yaml")

    assert problem.startswith(
        "latin1.yaml is not UTF-8 text: byte 0xe9 at position 18 (line 2, byte 12 of the line)"
    )
    assert problem.endswith("save the file as UTF-8")


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_nesting_too_deep_for_the_parser_is_an_error(name: str) -> None:
    assert problems(b"[" * 100_000, name) == [f"{name} is nested too deeply to be read"]


def test_a_byte_order_mark_is_read_past() -> None:
    assert parse_data(b'\xef\xbb\xbf{"source": "x"}', "bom.json") == {"source": "x"}


def test_a_bundle_with_a_repeated_key_is_rejected_with_nothing_read() -> None:
    with pytest.raises(BundleError) as raised:
        bundle_data(b'{"source": "x", "source": "demo"}', "b.json")

    assert "nothing was written" in str(raised.value)
    assert raised.value.problems == [
        "b.json: key 'source' is given more than once in the top-level object; give each key once"
    ]


def test_every_yaml_document_of_a_stream_is_checked() -> None:
    text = "a: 1\n---\nb: 1\nb: 2\n"

    with pytest.raises(DocumentError, match="line 4, column 1: key 'b'"):
        parse_yaml_documents(text, "s.yaml")


def test_openslo_documents_with_a_repeated_key_are_refused() -> None:
    text = "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: a\n  name: b\n"

    with pytest.raises(InvalidInputError) as raised:
        parse_documents(text)

    [problem] = raised.value.problems
    assert problem.field == "documents"
    assert "line 5, column 3: key 'name' is given more than once" in problem.message
