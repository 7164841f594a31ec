"""Pushed measurements (`POST /api/v1/measurements`).

Pushed points are kept on the `TelemetryDay` node of their objective, the source
`push` and the day they count in, beside the buckets they make (`pushedTimes`,
`pushedGood`, `pushedTotal`, `pushedSeconds`: little-endian float64 byte arrays;
`pushedKind`; `pushedTerms`, the objective's measuring terms the buckets were
measured under; and `pushedVersion`, a random id of the write): one node read and
written per day, in one transaction, so that two pushes to one day cannot lose each
other's points. The buckets are written with
`telemetry.UPSERT_TELEMETRY_DAYS`.
"""

from __future__ import annotations

from hub.graph.cypher import Cypher

# Keys are `objectiveId|push|YYYY-MM-DD`; absent days are not returned.
PUSHED_DAYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (d:TelemetryDay {key: key})
    RETURN d.key AS key, d.pushedKind AS kind, d.pushedTimes AS times,
           d.pushedGood AS good, d.pushedTotal AS total, d.pushedSeconds AS seconds,
           d.good AS bucketGood, d.total AS bucketTotal, d.pushedTerms AS terms
    """
)

# PUSHED_DAYS inside a write: each day is write-locked first (`lockedAt`), so what is
# read is the last committed write and nobody else's can commit before this one.
# Under read committed (Neo4j) a plain read could see a day another transaction then
# rewrites before this one writes it, and one of the two pushes would be lost. MERGE,
# not MATCH: a day not there yet is created here, so two first pushes to it meet on
# the key's unique constraint instead of each writing it from nothing.
LOCK_PUSHED_DAYS = Cypher(
    """
    UNWIND $keys AS key
    MERGE (d:TelemetryDay {key: key})
    SET d.lockedAt = $now
    RETURN d.key AS key, d.pushedKind AS kind, d.pushedTimes AS times,
           d.pushedGood AS good, d.pushedTotal AS total, d.pushedSeconds AS seconds,
           d.good AS bucketGood, d.total AS bucketTotal, d.pushedTerms AS terms
    """
)

# Each row: key, props, and what identifies the write of the day this process made
# last (`version`, `updatedAt`): the day is written only if it still holds that write
# (`pushedVersion` and `updatedAt` unchanged; any write of a day sets `updatedAt`),
# compared once the day is write-locked (as in LOCK_PUSHED_DAYS).
# Returns the keys written; the others are read (`LOCK_PUSHED_DAYS`) and written again.
UPDATE_PUSHED_DAYS_IF_UNCHANGED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (d:TelemetryDay {key: row.key})
    SET d.lockedAt = row.props.updatedAt
    WITH d, row
    WHERE d.pushedVersion = row.version AND d.updatedAt = row.updatedAt
    SET d += row.props
    RETURN d.key AS key
    """
)

# A pusher token's objectives, with the names of the services each answers for: its
# own service's, or those its agreement covers (for `service/name` references).
# `IN $ids`, not `UNWIND $ids ... {id: id}`: the faster of the two on ArcadeDB when
# measured for 64 ids (ad hoc, no committed command).
PUSH_OBJECTIVES = Cypher(
    """
    MATCH (o:Objective)
    WHERE o.id IN $ids
    MATCH (owner)-[:HAS_OBJECTIVE]->(o)
    OPTIONAL MATCH (owner)-[:COVERS]->(covered:Service)
    WITH o, owner, collect(DISTINCT covered.name) AS coveredNames
    RETURN properties(o) AS props, owner.id AS ownerId, labels(owner) AS ownerLabels,
           owner.name AS ownerName, coveredNames
    ORDER BY o.id
    """
)

# The tokens of concurrent pushes, looked up together (`TOKEN_BY_HASH`'s rule: neither
# revoked nor expired); absent hashes are not returned.
PUSH_TOKENS = Cypher(
    """
    UNWIND $hashes AS hash
    MATCH (t:ApiToken {hash: hash})
    WHERE t.revokedAt IS NULL AND (t.expiresAt IS NULL OR t.expiresAt > $now)
    RETURN hash, t.id AS id, t.user AS user, t.role AS role, t.domains AS domains,
           t.regions AS regions, t.groups AS groups, t.customerId AS customerId,
           t.objectives AS objectives
    """
)
