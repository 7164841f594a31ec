"""Reading the JSON and YAML files people write, strictly.

The standard parsers forgive what a hub must not: given one key twice in an object,
both keep the last value without a word, so ``{"source": "x", "source": "demo"}``
imports into ``demo`` and a second ``services:`` list silently replaces the first.
Here a repeated key is an error naming the key and where it is, text that is not
UTF-8 is an error naming the byte, and a document nested too deeply for the parser is
an error too, never a traceback. Every error names the file.

`parse_data` reads one JSON or YAML document (chosen by the file name) and
`parse_yaml_documents` a multi-document YAML stream; both raise `DocumentError`.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, ScalarNode

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DocumentError(ValueError):
    """A file that cannot be read as data; `problems` says why, each naming the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def decode(data: bytes, name: str) -> str:
    """`data` as UTF-8 text (a leading byte-order mark is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError(
            [
                f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} at position "
                f"{exc.start} (line {line}, byte {column} of the line) cannot be decoded "
                f"({exc.reason}); save the file as UTF-8"
            ]
        ) from exc
    return text.removeprefix("\ufeff")


def parse_data(data: bytes, name: str) -> Any:
    """One document of file `name`: JSON if the name ends in ``.json``, else YAML."""
    text = decode(data, name)
    if name.lower().endswith(".json"):
        return parse_json(text, name)
    return parse_yaml(text, name)


# ---- JSON ------------------------------------------------------------------------------


class _Repeated(dict[str, Any]):
    """A JSON object that gave some keys more than once (found again by identity)."""

    def __init__(self, pairs: list[tuple[str, Any]], repeated: list[str]) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def _repeated_keys(value: Any, path: str, problems: list[str], name: str) -> None:
    """Append a problem for each key a `_Repeated` object under `value` repeats."""
    if isinstance(value, dict):
        if isinstance(value, _Repeated):
            where = f"the object at {path}" if path else "the top-level object"
            problems.extend(
                f"{name}: key {key!r} is given more than once in {where}; give each key once"
                for key in value.repeated
            )
        for key, item in value.items():
            _repeated_keys(item, f"{path}.{key}" if path else key, problems, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _repeated_keys(item, f"{path}[{index}]", problems, name)


def parse_json(text: str, name: str) -> Any:
    """The JSON document `text` of file `name`; a key repeated in an object is an error."""
    found: list[_Repeated] = []

    def pairs_to_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        seen: set[str] = set()
        repeated: dict[str, None] = {}  # in order, once each
        for key, _ in pairs:
            if key in seen:
                repeated[key] = None
            seen.add(key)
        found.append(_Repeated(pairs, list(repeated)))
        return found[-1]

    try:
        data = json.loads(text, object_pairs_hook=pairs_to_object)
    except json.JSONDecodeError as exc:
        raise DocumentError([f"{name} is not valid JSON: {exc}"]) from exc
    except RecursionError as exc:
        raise DocumentError([f"{name} is nested too deeply to be read"]) from exc
    if not found:
        return data
    # Objects do not know where they are: the paths come from a walk, made only now.
    problems: list[str] = []
    _repeated_keys(data, "", problems, name)
    raise DocumentError(problems)


# ---- YAML ------------------------------------------------------------------------------


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A YAML mapping that gives one key twice."""

    def __init__(self, key: Hashable, first: Mark, again: Mark) -> None:
        super().__init__("while constructing a mapping", first, f"found {key!r} again", again)
        self.key = key
        self.line = again.line + 1
        self.first_line = first.line + 1
        self.column = again.column + 1

    def __str__(self) -> str:
        return (
            f"line {self.line}, column {self.column}: key {self.key!r} is given more than "
            f"once in one mapping (first on line {self.first_line}); give each key once"
        )


class UniqueKeyLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a mapping giving one key twice (`DuplicateKeyError`).

    Keys merged in with ``<<`` may still be overridden, as YAML intends::

        yaml.load("a: 1\\na: 2", Loader=UniqueKeyLoader)  # DuplicateKeyError, line 2
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Hashable, Mark] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue  # a complex key is refused (or not) by SafeLoader itself
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                raise DuplicateKeyError(key, seen[key], key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: Exception, name: str) -> DocumentError:
    if isinstance(exc, DuplicateKeyError):
        return DocumentError([f"{name}, {exc}"])
    if isinstance(exc, RecursionError):
        return DocumentError([f"{name} is nested too deeply to be read"])
    return DocumentError([f"{name} is not valid YAML: {exc}"])


def parse_yaml(text: str, name: str) -> Any:
    """The YAML document `text` of file `name`; a key repeated in a mapping is an error."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, RecursionError) as exc:
        raise _yaml_problem(exc, name) from exc


def parse_yaml_documents(text: str, name: str) -> list[Any]:
    """Every document of the YAML stream `text` of file `name`, as `parse_yaml` reads one."""
    try:
        return list(yaml.load_all(text, Loader=UniqueKeyLoader))
    except (yaml.YAMLError, RecursionError) as exc:
        raise _yaml_problem(exc, name) from exc
