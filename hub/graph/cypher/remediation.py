"""Remediation of violated periods: the period's workflow node, its frozen evidence, and
the draft revision it proposed (`hub.graph.repositories.remediation`).

A `Remediation` node stands for one violated period of one objective under one
agreement version, keyed `<agreementId>|<objectiveId>|<periodStart>`: the violation
revisions of that period (`hub.graph.cypher.service_levels`) come and go, the
remediation stays and points at the latest (`violationId`).
"""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope

REMEDIATION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT remediation_id IF NOT EXISTS FOR (n:Remediation) REQUIRE n.id IS UNIQUE"
)
REMEDIATION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT remediation_key IF NOT EXISTS FOR (n:Remediation) REQUIRE n.key IS UNIQUE"
)
REMEDIATION_STATUS_INDEX = Cypher(
    "CREATE INDEX remediation_status IF NOT EXISTS FOR (n:Remediation) ON (n.status)"
)
REMEDIATION_VIOLATION_INDEX = Cypher(
    "CREATE INDEX remediation_violation IF NOT EXISTS FOR (n:Remediation) ON (n.violationId)"
)
EVIDENCE_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT evidence_id IF NOT EXISTS FOR (n:Evidence) REQUIRE n.id IS UNIQUE"
)

# ---- the assessment's writes (in its transaction) -------------------------------

REMEDIATIONS_BY_KEYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (r:Remediation {key: key})
    RETURN r {.*} AS remediation
    """
)

CREATE_REMEDIATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    CREATE (r:Remediation)
    SET r += row.props
    CREATE (a)-[:HAS_REMEDIATION]->(r)
    """
)

UPDATE_REMEDIATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (r:Remediation {key: row.key})
    SET r += row.props
    """
)

ADD_EVIDENCE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (r:Remediation {key: row.key})
    CREATE (e:Evidence)
    SET e += row.props
    CREATE (r)-[:HAS_EVIDENCE]->(e)
    """
)

# ---- reads --------------------------------------------------------------------

REMEDIATIONS_OF_KEYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation {key: key})
    WHERE """
    + scope.agreement_visible("a")
    + """
    RETURN r {.*} AS remediation
    """
)

REMEDIATION_BY_ID = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation {id: $id})
    WHERE """
    + scope.agreement_visible("a")
    + """
    RETURN r {.*} AS remediation, a.lineage AS lineage, a.id AS agreementId
    """
)

EVIDENCE_OF = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Remediation {id: id})-[:HAS_EVIDENCE]->(e:Evidence)
    WITH id, e
    ORDER BY e.recordedAt, e.id
    RETURN id, collect(e {.*}) AS evidence
    """
)

TARGET_REVISIONS_OF = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Remediation {id: id})-[:PROPOSED_REVISION]->(d:Agreement)
    WITH id, d
    ORDER BY d.version DESC
    RETURN id, collect(d.id)[0] AS draftId
    """
)

# The current (or, VOID, the last) revision of each violated period of the kinds and
# states asked for, by the revision's id.
VIOLATIONS_OF = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation)
    WHERE ($agreementId IS NULL OR r.agreementId = $agreementId)
      AND ($kinds IS NULL OR r.agreementKind IN $kinds)
      AND ($statuses IS NULL OR r.status IN $statuses)
      AND ($after IS NULL OR r.violationId > $after)
      AND """
    + scope.agreement_visible("a")
    + """
    WITH r
    ORDER BY r.violationId
    LIMIT $limit
    MATCH (v:Violation {id: r.violationId})
    RETURN v {.*} AS violation
    """
)

# ---- the workflow's writes --------------------------------------------------------

SET_ROOT_CAUSE = Cypher(
    """
    MATCH (r:Remediation {id: $id})
    SET r.rootCauseSummary = $summary, r.rootCauseRecordedAt = $now,
        r.rootCauseRecordedBy = $actor, r.rootCauseComponentIds = $componentIds
    """
)

REMEDIATION_ACTIONS = Cypher(
    """
    MATCH (r:Remediation {id: $id})
    OPTIONAL MATCH (r)-[:HAS_ACTION]->(x:Action)
    RETURN r {.*} AS remediation, count(x) AS actions,
           sum(CASE WHEN x.status = 'OPEN' THEN 1 ELSE 0 END) AS openActions
    """
)

SET_REMEDIATION_STATUS = Cypher(
    """
    MATCH (r:Remediation {id: $id})
    SET r.status = $status, r.closedAt = $closedAt
    """
)

LINK_TARGET_REVISION = Cypher(
    """
    MATCH (r:Remediation {id: $id})
    MATCH (d:Agreement {id: $draftId})
    MERGE (r)-[:PROPOSED_REVISION]->(d)
    """
)

# ---- migration ------------------------------------------------------------------

# Current violation revisions recorded before remediation existed, without one.
VIOLATIONS_WITHOUT_REMEDIATION = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_VIOLATION]->(v:Violation)
    WHERE v.recordKey STARTS WITH $openPrefix
      AND NOT EXISTS {
        MATCH (r:Remediation)
        WHERE r.key = v.agreementId + '|' + v.objectiveId + '|' + v.periodStart
      }
    RETURN v {.*} AS violation, a.kind AS kind
    """
)
