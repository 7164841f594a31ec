"""The backup file: gzip'd JSON lines, a header first, checked by SHA-256.

```
line 1   {"format": "service-agreements-hub-backup", "formatVersion": 1, "hubVersion": ...,
          "createdAt": ..., "graph": "embedded", "consistency": "snapshot",
          "nodes": N, "relationships": M, "labels": {"Component:Service": n, ...},
          "types": {"DEPENDS_ON": m, ...}, "bodyLines": N + M, "bodyBytes": ...,
          "sha256": "<hex digest of every byte after line 1, uncompressed>"}
then     {"labels": ["Component", "Service"], "props": {...}}          one per node
then     {"type": "DEPENDS_ON", "from": ["Component", "cmp_..."],
          "to": ["Component", "cmp_..."], "props": {...}}                 one per relationship
```

Every node comes before every relationship. Property values are JSON, except byte
arrays (`{"$bytes": "<base64>"}`) and maps, which Neo4j never stores but ArcadeDB may
(`{"$map": {...}}`); floats keep their exact value (NaN included, as Python's `json`
writes it). A relationship names its ends by their key label and key.

The header needs the digest and the counts of a body that is written as it is read,
so the body goes to a temporary file first; the final file is a gzip member holding
the header line followed by the body's own members (gzip readers read concatenated
members as one stream), and replaces the target only once complete. The file is
created 0600: it holds the token hashes and the audit trail.

A file whose digest, line count or gzip stream does not match is refused before
anything is written. The digest finds truncation and accidental or careless edits;
it is not a signature: someone who edits the body and recomputes the header's digest
is not detected (keep backups where only their owners can write).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FORMAT = "service-agreements-hub-backup"
FORMAT_VERSION = 1
_COMPRESS_LEVEL = 6  # gzip's default of 9 costs twice the time for 2 % less size
_CHUNK = 1 << 20


class BackupFileError(Exception):
    """The backup file is missing, truncated, edited or of another format."""


Record = dict[str, Any]


@dataclass(slots=True)
class Header:
    """What the first line of a backup file says about the rest."""

    hub_version: str
    created_at: str
    graph: str
    consistency: str
    labels: dict[str, int] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)
    body_lines: int = 0
    body_bytes: int = 0
    sha256: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def nodes(self) -> int:
        return sum(self.labels.values())

    @property
    def relationships(self) -> int:
        return sum(self.types.values())

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "formatVersion": self.format_version,
                "hubVersion": self.hub_version,
                "createdAt": self.created_at,
                "graph": self.graph,
                "consistency": self.consistency,
                "nodes": self.nodes,
                "relationships": self.relationships,
                "labels": self.labels,
                "types": self.types,
                "bodyLines": self.body_lines,
                "bodyBytes": self.body_bytes,
                "sha256": self.sha256,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, path: Path) -> Header:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackupFileError(
                f"{path} is not a hub backup (its first line is not JSON)"
            ) from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupFileError(f"{path} is not a hub backup (no {FORMAT!r} header)")
        version = raw.get("formatVersion")
        if version != FORMAT_VERSION:
            raise BackupFileError(
                f"{path} is in backup format version {version}; this hub reads version "
                f"{FORMAT_VERSION}: restore it with the hub version that wrote it "
                f"({raw.get('hubVersion')})"
            )
        try:
            header = cls(
                hub_version=str(raw["hubVersion"]),
                created_at=str(raw["createdAt"]),
                graph=str(raw["graph"]),
                consistency=str(raw["consistency"]),
                labels={str(k): int(v) for k, v in raw["labels"].items()},
                types={str(k): int(v) for k, v in raw["types"].items()},
                body_lines=int(raw["bodyLines"]),
                body_bytes=int(raw["bodyBytes"]),
                sha256=str(raw["sha256"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupFileError(f"{path} has an incomplete backup header ({exc!r})") from exc
        if header.nodes + header.relationships != header.body_lines:
            raise BackupFileError(f"{path} has a header whose counts do not add up")
        return header


# ---- values ------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A property value as JSON can hold it (see the module's docstring)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if isinstance(value, dict):
        return {"$map": {str(k): encode_value(v) for k, v in value.items()}}
    raise TypeError(f"a value of type {type(value).__name__} ({value!r:.60})")


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        return {k: decode_value(v) for k, v in value["$map"].items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def encode_props(props: dict[str, Any]) -> dict[str, Any]:
    return {key: encode_value(value) for key, value in props.items()}


def decode_props(props: dict[str, Any]) -> dict[str, Any]:
    return {key: decode_value(value) for key, value in props.items()}


# ---- writing -----------------------------------------------------------------------------


class BackupWriter:
    """Writes a backup file: records first (`add`), the header last (`finish`).

    Nothing appears at `path` until `finish` has written the whole file; `abort` (or
    leaving the `with` block on an exception) removes what was written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        tag = uuid.uuid4().hex[:12]
        self._body_path = path.with_name(f".{path.name}.{tag}.body")
        self._final_path = path.with_name(f".{path.name}.{tag}.part")
        self._digest = hashlib.sha256()
        self.lines = 0
        self.bytes = 0
        self._raw: IO[bytes] = _create_private(self._body_path)
        self._body = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=_COMPRESS_LEVEL)

    def __enter__(self) -> BackupWriter:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if exc is not None:
            self.abort()

    def add(self, record: Record) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        self._digest.update(line)
        self._body.write(line)
        self.lines += 1
        self.bytes += len(line)

    def finish(self, header: Header) -> None:
        """Complete the header with the body's digest and size, and write the file."""
        self._body.close()
        self._raw.close()
        header.body_lines = self.lines
        header.body_bytes = self.bytes
        header.sha256 = self._digest.hexdigest()
        try:
            with _create_private(self._final_path) as out:
                out.write(gzip.compress(header.to_json().encode() + b"\n", _COMPRESS_LEVEL))
                with open(self._body_path, "rb") as body:
                    shutil.copyfileobj(body, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(self._final_path, self.path)
        finally:
            self._cleanup()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._body.close()
            self._raw.close()
        self._cleanup()

    def _cleanup(self) -> None:
        self._body_path.unlink(missing_ok=True)
        self._final_path.unlink(missing_ok=True)


def _create_private(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


# ---- reading -----------------------------------------------------------------------------


@contextlib.contextmanager
def _open(path: Path) -> Iterator[gzip.GzipFile]:
    try:
        with gzip.open(path, "rb") as stream:
            yield stream
    except FileNotFoundError as exc:
        raise BackupFileError(f"{path} does not exist") from exc
    except IsADirectoryError as exc:
        raise BackupFileError(f"{path} is a directory, not a backup file") from exc
    except gzip.BadGzipFile as exc:
        if str(exc).startswith("Not a gzipped file"):
            raise BackupFileError(f"{path} is not a hub backup (it is not gzip data)") from exc
        raise BackupFileError(f"{path} is damaged ({exc}); nothing was restored") from exc
    except (EOFError, zlib.error) as exc:
        raise BackupFileError(
            f"{path} is truncated or damaged ({exc}); nothing was restored"
        ) from exc


def read_header(path: Path) -> Header:
    with _open(path) as stream:
        first = stream.readline()
    if not first.endswith(b"\n"):
        raise BackupFileError(f"{path} is empty or truncated (no complete header line)")
    return Header.from_json(first.decode("utf-8", "replace"), path)


def verify(path: Path, header: Header) -> None:
    """Read the whole file once: refuse it unless its body is the one the header names."""
    digest = hashlib.sha256()
    lines = 0
    size = 0
    with _open(path) as stream:
        stream.readline()
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            size += len(chunk)
    if size != header.body_bytes or lines != header.body_lines:
        raise BackupFileError(
            f"{path} is truncated or edited: the header announces {header.body_lines} records "
            f"({header.body_bytes} bytes), the file holds {lines} ({size} bytes); "
            "nothing was restored"
        )
    if digest.hexdigest() != header.sha256:
        raise BackupFileError(
            f"{path} was edited or damaged: its content does not match the SHA-256 in its "
            "header; nothing was restored"
        )


def records(path: Path) -> Iterator[tuple[Record, int]]:
    """Each record of the body with the length of its line (for sizing batches)."""
    with _open(path) as stream:
        stream.readline()
        for number, line in enumerate(stream, start=2):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BackupFileError(f"{path}: line {number} is not JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise BackupFileError(f"{path}: line {number} is not a record")
            yield record, len(line)
