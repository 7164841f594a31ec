"""What the service level engine reads and writes besides telemetry buckets:
objective owners, tickets, violations and incidents for root cause."""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope

# The agreement or service that holds each objective, with its tier (a service's own,
# or the highest tier among what an agreement covers).
OBJECTIVE_OWNERS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective {id: id})
    OPTIONAL MATCH (owner)-[:COVERS]->(c:Component)
    RETURN id, owner.id AS ownerId, owner.tier AS ownTier, collect(c.tier) AS coveredTiers
    """
)

# Tickets of the components the objective's agreement covers (or of the service that
# holds it) that were open at some point of [$from, $to).
OBJECTIVE_TICKETS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (owner)-[:HAS_OBJECTIVE]->(:Objective {id: id})
    OPTIONAL MATCH (owner)-[:COVERS]->(covered:Component)
    WITH id, owner, collect(covered) AS covered
    UNWIND CASE WHEN size(covered) = 0 THEN [owner] ELSE covered END AS c
    MATCH (c)<-[:AFFECTS]-(i:Incident)
    WHERE i.openedAt < $to AND (i.resolvedAt IS NULL OR i.resolvedAt >= $from)
    RETURN id, collect(DISTINCT properties(i)) AS tickets
    """
)

# ACTIVE SLAs with their objectives (optionally only some agreements).
ACTIVE_SLA_OBJECTIVES = Cypher(
    """
    MATCH (a:Agreement {kind: 'SLA', status: 'ACTIVE'})
    WHERE $ids IS NULL OR a.id IN $ids
    OPTIONAL MATCH (a)-[:COVERS]->(c:Component)
    WITH a, collect(c.tier) AS tiers
    MATCH (a)-[:HAS_OBJECTIVE]->(o:Objective)
    RETURN a.id AS agreementId, a.creditPolicy AS creditPolicy,
           a.effectiveFrom AS effectiveFrom, tiers, o {.*} AS objective
    ORDER BY a.id, o.id
    """
)

# Each row: key (objectiveId|periodStart), id (for a new node), agreementId,
# objectiveId, props.
UPSERT_VIOLATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    MATCH (o:Objective {id: row.objectiveId})
    MERGE (v:Violation {key: row.key})
    ON CREATE SET v.id = row.id, v.createdAt = $now
    SET v += row.props, v.updatedAt = $now
    MERGE (a)-[:HAS_VIOLATION]->(v)
    MERGE (v)-[:OF_OBJECTIVE]->(o)
    """
)

# Periods that were assessed again and are no longer breached lose their violation.
CLEAR_VIOLATIONS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (v:Violation {key: key})
    DETACH DELETE v
    """
)

VIOLATIONS = Cypher(
    """
    MATCH (v:Violation)
    WHERE ($agreementId IS NULL OR v.agreementId = $agreementId)
      AND ($severities IS NULL OR v.severity IN $severities)
      AND ($from IS NULL OR v.periodEnd > $from)
      AND ($to IS NULL OR v.periodStart < $to)
      AND ($after IS NULL OR v.id > $after)
      AND EXISTS {
        MATCH (a:Agreement)-[:HAS_VIOLATION]->(v)
        WHERE """
    + scope.agreement_visible("a")
    + """
      }
    RETURN v {.*} AS violation
    ORDER BY v.id
    LIMIT $limit
    """
)

VIOLATIONS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (v:Violation {id: id})
    WHERE EXISTS {
        MATCH (a:Agreement)-[:HAS_VIOLATION]->(v)
        WHERE """
    + scope.agreement_visible("a")
    + """
      }
    RETURN v {.*} AS violation
    """
)

# Incidents on the given components that were open at some point of [$from, $to).
INCIDENTS_ON_COMPONENTS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})<-[:AFFECTS]-(i:Incident)
    WHERE i.openedAt < $to AND coalesce(i.resolvedAt, i.closedAt, $to) >= $from
    RETURN id, collect(properties(i)) AS incidents
    """
)

OBJECTIVES_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    WHERE """
    + scope.objective_visible("o")
    + """
    RETURN o {.*} AS objective
    """
)
