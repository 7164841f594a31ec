"""What the service level engine reads and writes besides telemetry buckets:
objective owners, tickets, violations and incidents for root cause."""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope, validity

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
# holds it) that were open at some point of [$from, $to), with the agreement's
# supported hours (JSON text; null for a service's objective or around the clock).
OBJECTIVE_TICKETS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (owner)-[:HAS_OBJECTIVE]->(:Objective {id: id})
    OPTIONAL MATCH (owner)-[:COVERS]->(covered:Component)
    WITH id, owner, collect(covered) AS covered
    UNWIND CASE WHEN size(covered) = 0 THEN [owner] ELSE covered END AS c
    MATCH (c)<-[:AFFECTS]-(i:Incident)
    WHERE i.openedAt < $to AND (i.resolvedAt IS NULL OR i.resolvedAt >= $from)
    RETURN id, owner.supportHours AS supportHours, collect(DISTINCT properties(i)) AS tickets
    """
)

# The agreement versions (SLAs, OLAs and UCs alike) in force at some instant of
# [$from, $to), with their objectives: each
# judges the part of a period it was in force in (docs/service-levels.md, "Judged by
# the terms in force"). $ids, when given, names agreements whose whole lineages are
# assessed (any version of a lineage stands for all of them). An objective a version
# inherits (`hub.graph.cypher.levels`) comes with the valid time of the ancestor
# version it is inherited from (`inherited`): it judges only while both are in force.
AGREEMENT_OBJECTIVES_IN_FORCE_DURING = Cypher(
    """
    OPTIONAL MATCH (given:Agreement)
    WHERE $ids IS NOT NULL AND given.id IN $ids
    WITH collect(DISTINCT coalesce(given.lineage, given.id)) AS lineages
    MATCH (a:Agreement)
    WHERE ($ids IS NULL OR coalesce(a.lineage, a.id) IN lineages) AND """
    + validity.in_force_during("a", "$from", "$to")
    + """
    OPTIONAL MATCH (a)-[:COVERS]->(c:Component)
    WITH a, collect(c.tier) AS tiers
    MATCH (a)-[:HAS_OBJECTIVE]->(o:Objective)
    OPTIONAL MATCH (ancestor:Agreement {id: o.inheritedVersion})
    RETURN a.id AS agreementId, a.kind AS kind, a.lineage AS lineage,
           a.creditPolicy AS creditPolicy,
           a.effectiveFrom AS effectiveFrom, a.effectiveTo AS effectiveTo,
           a.sunsetAt AS sunsetAt, a.version AS version, tiers, o {.*} AS objective,
           CASE WHEN ancestor IS NULL THEN null
           ELSE ancestor {.effectiveFrom, .effectiveTo, .sunsetAt} END AS inherited
    ORDER BY a.id, o.id
    """
)

# ---- violations: revisions in record time (hub/graph/repositories/violations.py) -------
#
# A Violation node is one revision of the verdict on one period of one objective: it is
# written once and only ever closed (`supersededAt`), never changed or deleted.
# `recordKey` is `<recordEnd>|<agreementId>|<objectiveId>|<periodStart>`, where
# recordEnd is `supersededAt`, or OPEN_RECORD (9999-12-31...) while the revision is
# current. It is unique, so a period has at most one current revision, and it is the
# index every read below starts from: the current revisions (of one agreement) are a
# prefix of it, and the revisions current at an instant T are among the keys after
# `T~`, so neither list reads the revisions closed before the instant it asks about.

# The current revisions of the periods an assessment judged, by their open record keys.
CURRENT_VIOLATIONS = Cypher(
    """
    UNWIND $recordKeys AS recordKey
    MATCH (v:Violation {recordKey: recordKey})
    RETURN v {.*} AS violation
    """
)

# Close current revisions: each row names one by its open record key and gives the key
# it has once closed. Returns how many it closed: fewer than asked means another
# assessment closed some after this one read them.
SUPERSEDE_VIOLATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (v:Violation {recordKey: row.recordKey})
    WHERE v.supersededAt IS NULL
    SET v.supersededAt = $now, v.recordKey = row.closedKey
    RETURN count(v) AS superseded
    """
)

# New current revisions. Each row: agreementId, objectiveId, props (every property,
# id, key and recordKey included). CREATE, not MERGE: a revision is new by definition;
# a retried transaction reads the current revisions again before deciding, and the
# unique recordKey refuses a second current revision of one period.
RECORD_VIOLATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    MATCH (o:Objective {id: row.objectiveId})
    CREATE (v:Violation)
    SET v += row.props
    CREATE (a)-[:HAS_VIOLATION]->(v)
    CREATE (v)-[:OF_OBJECTIVE]->(o)
    """
)

# `violations`: the current revisions, of one agreement when $recordKeyPrefix names it
# (`OPEN_RECORD|agreementId|`), else of all (`OPEN_RECORD|`). The index range comes
# first, alone: ArcadeDB plans one index per MATCH and would pick `id` for `v.id > $after`.
VIOLATIONS = Cypher(
    """
    MATCH (v:Violation)
    WHERE v.recordKey STARTS WITH $recordKeyPrefix
    WITH v
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
    WITH v
    ORDER BY v.id
    LIMIT $limit
    RETURN v {.*} AS violation
    """
)

# `violationsAsRecorded`: the revisions current at $knownAt, recordedAt <= $knownAt <
# coalesce(supersededAt, +inf). $recordKeyAfter is `<knownAt>~`: '~' sorts after '|' and
# every character of an id, so the range holds exactly the revisions whose record ends
# after knownAt (the current ones included), and none closed earlier.
VIOLATIONS_AS_RECORDED = Cypher(
    """
    MATCH (v:Violation)
    WHERE v.recordKey > $recordKeyAfter
    WITH v
    WHERE v.recordedAt <= $knownAt
      AND ($agreementId IS NULL OR v.agreementId = $agreementId)
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
    WITH v
    ORDER BY v.id
    LIMIT $limit
    RETURN v {.*} AS violation
    """
)

# Any revision by id, current or not: `node(id)` of a revision that was later revised
# or cleared still answers.
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

# Migration: violations written before record time (one node per period, updated in
# place) each become the current revision of their period, recorded when last written.
VIOLATIONS_TO_REVISIONS = Cypher(
    """
    MATCH (v:Violation)
    WHERE v.recordedAt IS NULL
    OPTIONAL MATCH (a:Agreement {id: v.agreementId})
    WITH v, a, coalesce(v.updatedAt, v.createdAt, $now) AS recordedAt
    SET v.recordedAt = recordedAt,
        v.agreementVersion = coalesce(a.version, 1),
        v.key = v.objectiveId + '|' + v.periodStart + '|' + recordedAt,
        v.recordKey = $openRecord + '|' + v.agreementId + '|' + v.objectiveId + '|'
                      + v.periodStart
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

# ---- handoffs
#
# The provider team of the agreement holding each objective (an OLA's PROVIDED_BY), with
# the keys of its external refs: a HANDOFF_TIME objective of that agreement times the
# tickets from when this team got them to when it handed them on (hub/engine/status.py).
OBJECTIVE_PROVIDER_TEAMS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(:Objective {id: id})
    MATCH (a)-[:PROVIDED_BY]->(t:Team)
    OPTIONAL MATCH (ref:ExternalRef)-[:REFERS_TO]->(t)
    RETURN id, t.id AS teamId, collect(ref.key) AS refs
    """
)
