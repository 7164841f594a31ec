"""`hub report verify`: every published snapshot checked against what it recorded.

For each snapshot in chain order: its sequence follows the one before (none removed),
its `previousHash` is the hash of the one before, its content hashes to its
`contentSha256`, each stored file hashes to the SHA-256 (and has the size) it
recorded, and its `hash` is recomputed from all of these. Finally the chain's head
names the last snapshot. The first mismatch is named.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.reports import GENESIS, sha256_hex, snapshot_hash
from hub.graph.client import Graph
from hub.graph.repositories.reports import ReportRepository


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    checked: int
    mismatch: str | None = None

    @property
    def intact(self) -> bool:
        return self.mismatch is None

    def summary(self) -> str:
        if self.mismatch is None:
            return (
                f"report archive intact: {self.checked} snapshot(s), files and hash chain verified"
            )
        return f"report archive broken after {self.checked} intact snapshot(s): {self.mismatch}"


async def verify_archive(graph: Graph) -> ArchiveReport:
    repository = ReportRepository(graph)
    previous, checked = GENESIS, 0
    for snapshot in await repository.chain():
        name = f"snapshot {snapshot.id} (sequence {snapshot.sequence})"
        if snapshot.sequence != checked + 1:
            return ArchiveReport(
                checked, f"{name} follows sequence {checked}: a snapshot is missing"
            )
        if snapshot.previous_hash != previous:
            return ArchiveReport(
                checked,
                f"{name}: previousHash {snapshot.previous_hash} is not the hash of the "
                f"snapshot before it ({previous})",
            )
        if sha256_hex(snapshot.content) != snapshot.content_sha256:
            return ArchiveReport(checked, f"{name}: its content was changed after publishing")
        for digest in snapshot.files:
            data = await repository.file(snapshot.id, digest.format)
            found = sha256_hex(data)
            if found != digest.sha256 or len(data) != digest.size:
                return ArchiveReport(
                    checked,
                    f"{name}: its {digest.format.value} file was changed (recorded sha256 "
                    f"{digest.sha256}, {digest.size} bytes; stored {found}, {len(data)} bytes)",
                )
        expected = snapshot_hash(
            snapshot.header, snapshot.content_sha256, snapshot.files, snapshot.previous_hash
        )
        if expected != snapshot.hash:
            return ArchiveReport(
                checked, f"{name}: its hash does not match what it records (the node was edited)"
            )
        previous, checked = snapshot.hash, checked + 1
    head = await repository.head()
    if head is not None and (head[0] != checked or head[1] != previous):
        return ArchiveReport(
            checked,
            f"the archive's head names sequence {head[0]} with hash {head[1]}, but the chain "
            f"ends at sequence {checked} with hash {previous}: a snapshot is missing",
        )
    return ArchiveReport(checked)
