"""Escalations: `(subject)-[:ESCALATED]->(s:Escalation {stepKey})`, one per missed
step, ever (`hub.domain.escalation`, `hub.sync.escalations`).

The job reads what may be due in two statements, whatever the number of open
violations: remediations still open, with their undone steps; and the subjects of
overdue actions that are no remediations (service reviews, agreements). `stepKey` is
unique, so two processes escalating at once write one record per step.
"""

from typing import LiteralString

from hub.graph.cypher import Cypher

ESCALATION_STEP_UNIQUE = Cypher(
    "CREATE CONSTRAINT escalation_step IF NOT EXISTS FOR (n:Escalation) REQUIRE n.stepKey IS UNIQUE"
)
ESCALATION_SUBJECT_INDEX = Cypher(
    "CREATE INDEX escalation_subject IF NOT EXISTS FOR (n:Escalation) ON (n.subjectId)"
)

# The business units of agreement `a` (an SLA's customer, or the customers of the SLAs
# an OLA or UC underpins), for the matrix's per-unit recipients.
_UNITS: LiteralString = """
           [(a)-[:FOR_CUSTOMER]->(unit_c:Customer) | unit_c.businessUnit]
           + [(a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(unit_u:Customer)
              | unit_u.businessUnit] AS units"""

# Open remediations (of the agreements asked, or all: $agreementIds null) with a
# step that may be due at $now: detection not yet escalated, the RCA overdue and not
# escalated, or an overdue OPEN action not escalated; one row per agreement, so that
# its business units are read once. Steps whose grace (`hours_after_due`) has not
# passed yet are left to the domain.
DUE_REMEDIATIONS = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation)
    WHERE r.status IN ['OPEN', 'ACTIONS_OPEN']
      AND ($agreementIds IS NULL OR a.id IN $agreementIds)
    WITH a, r, [(r)-[:ESCALATED]->(e:Escalation) | e.stepKey] AS escalated
    WITH a, r, escalated,
         [(r)-[:HAS_ACTION]->(x:Action)
          WHERE x.status = 'OPEN' AND x.dueAt <= $now
          | {id: x.id, dueAt: x.dueAt, description: x.description, owner: x.owner}] AS actions
    WHERE NOT (r.id + '|detected') IN escalated
       OR (r.rootCauseRecordedAt IS NULL AND r.rcaDueAt <= $now
           AND NOT (r.id + '|rca') IN escalated)
       OR any(x IN actions WHERE NOT (r.id + '|' + x.id) IN escalated)
    WITH a, collect({id: r.id, level: coalesce(r.escalationLevel, 1),
                     detectedAt: r.detectedAt, rcaDueAt: r.rcaDueAt,
                     rootCauseRecordedAt: r.rootCauseRecordedAt, severity: r.severity,
                     violationId: r.violationId, objectiveId: r.objectiveId,
                     periodStart: r.periodStart, periodEnd: r.periodEnd,
                     escalated: escalated, actions: actions}) AS remediations
    RETURN a.id AS agreementId, a.name AS agreementName, a.kind AS agreementKind,
           remediations,"""
    + _UNITS
)

# The names of objectives, for the notices of the remediations due.
OBJECTIVE_NAMES = Cypher(
    """
    UNWIND $ids AS objectiveId
    MATCH (o:Objective {id: objectiveId})
    RETURN o.id AS id, o.name AS name
    """
)

# Service reviews and agreements with an overdue OPEN action (index on Action.status).
DUE_ACTION_SUBJECTS = Cypher(
    """
    MATCH (x:Action)
    WHERE x.status = 'OPEN' AND x.dueAt <= $now
    OPTIONAL MATCH (sa:Agreement)-[:HAS_SERVICE_REVIEW]->(sr:ServiceReview {id: x.subjectId})
    OPTIONAL MATCH (own:Agreement {id: x.subjectId})
    WITH x, coalesce(sr, own) AS s, coalesce(sa, own) AS a, sr IS NOT NULL AS review
    WHERE s IS NOT NULL AND ($agreementIds IS NULL OR a.id IN $agreementIds)
    WITH s, a, review,
         collect({id: x.id, dueAt: x.dueAt, description: x.description, owner: x.owner})
           AS actions
    OPTIONAL MATCH (s)-[:ESCALATED]->(e:Escalation)
    WITH s, a, review, actions, collect(e.stepKey) AS escalated, max(e.level) AS level
    WHERE any(x IN actions WHERE NOT (s.id + '|' + x.id) IN escalated)
    RETURN s.id AS id, coalesce(level, 0) AS level, review, s.heldAt AS heldAt,
           a.id AS agreementId, a.name AS agreementName, a.kind AS agreementKind,
           escalated, actions,"""
    + _UNITS
)

# One escalation per step: MERGE on the unique step key; only where this transaction
# created it (its pre-generated id) is it linked to its subject and returned, so only
# those are audited and notified. One statement per kind of subject, each an index
# lookup; a remediation's level rises with its escalation (never falls; written only
# when it rises, so detections at level 1 leave the remediation untouched).
RECORD_REMEDIATION_ESCALATIONS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (e:Escalation {stepKey: row.stepKey})
    ON CREATE SET e += row.props
    WITH row, e
    WHERE e.id = row.props.id
    MATCH (s:Remediation {id: row.subjectId})
    CREATE (s)-[:ESCALATED]->(e)
    FOREACH (_ IN CASE WHEN coalesce(s.escalationLevel, 0) < row.props.level
                       THEN [1] ELSE [] END | SET s.escalationLevel = row.props.level)
    RETURN row.stepKey AS stepKey
    """
)

RECORD_REVIEW_ESCALATIONS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (e:Escalation {stepKey: row.stepKey})
    ON CREATE SET e += row.props
    WITH row, e
    WHERE e.id = row.props.id
    MATCH (s:ServiceReview {id: row.subjectId})
    CREATE (s)-[:ESCALATED]->(e)
    RETURN row.stepKey AS stepKey
    """
)

RECORD_AGREEMENT_ESCALATIONS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (e:Escalation {stepKey: row.stepKey})
    ON CREATE SET e += row.props
    WITH row, e
    WHERE e.id = row.props.id
    MATCH (s:Agreement {id: row.subjectId})
    CREATE (s)-[:ESCALATED]->(e)
    RETURN row.stepKey AS stepKey
    """
)

ESCALATIONS_OF_SUBJECTS = Cypher(
    """
    MATCH (e:Escalation)
    WHERE e.subjectId IN $subjectIds AND $scopeCustomer IS NULL
    RETURN properties(e) AS escalation
    ORDER BY e.at, e.level, e.stepKey
    """
)
