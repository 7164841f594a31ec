"""Pushed measurements (`POST /api/v1/measurements`).

Pushed points are kept on the `TelemetryDay` node of their objective, the source
`push` and the day they count in, beside the buckets they make (`pushedTimes`,
`pushedGood`, `pushedTotal`, `pushedSeconds`: little-endian float64 byte arrays, and
`pushedKind`): one node read and written per day, in one transaction, so that two
pushes to one day cannot lose each other's points. The buckets are written with
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
           d.pushedGood AS good, d.pushedTotal AS total, d.pushedSeconds AS seconds
    """
)

# A pusher token's objectives, with the names of the services each answers for: its
# own service's, or those its agreement covers (for `service/name` references).
PUSH_OBJECTIVES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective {id: id})
    OPTIONAL MATCH (owner)-[:COVERS]->(covered:Service)
    WITH o, owner, collect(DISTINCT covered.name) AS coveredNames
    RETURN properties(o) AS props, owner.id AS ownerId, labels(owner) AS ownerLabels,
           owner.name AS ownerName, coveredNames
    ORDER BY o.id
    """
)
