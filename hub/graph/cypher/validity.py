"""Valid time in Cypher: whether an agreement version is in force at an instant, and
its status then, as `hub.domain.validity` decides them.

Like `hub.graph.cypher.scope`, each function returns the text of an expression on one
node variable, composed into the statements of the other modules when they are defined
(so each statement stays one constant that the dialect test parses). The instant is a
parameter, `$now` unless the caller names another (`$asOf`, `$at`, `$scopeNow`), in
the stored form of times (`hub.graph.ids.to_iso`), which sorts as times do.

"In force at T" replaces the old `status = 'ACTIVE'`: the status is no longer stored,
it depends on when one asks. `tests/graph/test_versions.py` checks that these
expressions and the domain's functions agree.
"""

from __future__ import annotations

from typing import LiteralString


def in_force(node: LiteralString, at: LiteralString = "$now") -> LiteralString:
    """The version `node` is approved and `at` lies in [effectiveFrom, effectiveTo).

    A null `at` admits nothing (every comparison with null is null).
    """
    return (
        f"({node}.state = 'APPROVED' AND {node}.effectiveFrom <= {at}"
        f" AND ({node}.effectiveTo IS NULL OR {at} < {node}.effectiveTo))"
    )


def in_force_during(
    node: LiteralString, start: LiteralString = "$from", end: LiteralString = "$to"
) -> LiteralString:
    """The version `node` is approved and in force at some instant of [start, end):
    its valid time overlaps the span (the versions that judge a period's parts)."""
    return (
        f"({node}.state = 'APPROVED' AND {node}.effectiveFrom < {end}"
        f" AND ({node}.effectiveTo IS NULL OR {start} < {node}.effectiveTo))"
    )


def status_at(node: LiteralString, at: LiteralString = "$now") -> LiteralString:
    """The status of the version `node` at `at`: `ValidTime.status_at` in Cypher."""
    return (
        f"(CASE WHEN {node}.state <> 'APPROVED' THEN {node}.state"
        f" WHEN {node}.sunsetAt IS NOT NULL AND {at} >= {node}.sunsetAt THEN 'SUNSET'"
        f" WHEN {node}.supersededAt IS NOT NULL AND ({at} >= {node}.supersededAt"
        f" OR {node}.supersededAt <= {node}.effectiveFrom) THEN 'SUPERSEDED'"
        f" WHEN {node}.effectiveTo IS NOT NULL AND {at} >= {node}.effectiveTo THEN 'EXPIRED'"
        f" WHEN {node}.effectiveFrom IS NULL OR {at} < {node}.effectiveFrom THEN 'SCHEDULED'"
        f" ELSE 'ACTIVE' END)"
    )


def latest(node: LiteralString) -> LiteralString:
    """`node` is the latest version of its lineage: no version names it as previous."""
    return f"(NOT EXISTS {{ MATCH ({node})<-[:PREVIOUS_VERSION]-(:Agreement) }})"
