"""The periodic SLA audit (hub/graph/repositories/periodic_audit.py): what a month's
violations, evidence and credits recorded, how much data each objective in force had,
and the archived audit reports.

Audit reports form a hash chain of their own: each names the SHA-256 of the report
archived before it. The head (one `AuditReportHead` node) holds the last report's
sequence and hash; a run first sets a property on it, which takes its write lock on
Neo4j (on ArcadeDB one of two concurrent runs fails and the driver runs it again),
then reads it, as the audit trail's head does (hub/graph/cypher/audit.py).
"""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope, validity

# ---- schema (the lead adds them as a migration) -----------------------------------------

AUDIT_REPORT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT audit_report_id IF NOT EXISTS FOR (n:AuditReport) REQUIRE n.id IS UNIQUE"
)

AUDIT_REPORT_PERIOD_INDEX = Cypher(
    "CREATE INDEX audit_report_period IF NOT EXISTS FOR (n:AuditReport) ON (n.period)"
)

# ---- what was recorded ------------------------------------------------------------------

# The current revisions of the periods that ended in the month ((from, to]), with the
# terms of their version (the objective's target, the credit policy), and every
# evidence record of their remediation (few: one per revision). `$earliest` bounds
# period starts from below (a quarter before the month) so the periodStart index
# serves. `$ids` (or null for all) names agreement lineages: any version for all.
PERIOD_VIOLATIONS = Cypher(
    """
    OPTIONAL MATCH (given:Agreement)
    WHERE $ids IS NOT NULL AND given.id IN $ids
    WITH collect(DISTINCT coalesce(given.lineage, given.id)) AS lineages
    MATCH (a:Agreement)-[:HAS_VIOLATION]->(v:Violation)
    WHERE v.periodStart >= $earliest AND v.periodStart < $to
      AND v.periodEnd > $from AND v.periodEnd <= $to AND v.supersededAt IS NULL
      AND ($ids IS NULL OR coalesce(a.lineage, a.id) IN lineages)
      AND """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (v)-[:OF_OBJECTIVE]->(o:Objective)
    OPTIONAL MATCH (a)-[:HAS_REMEDIATION]->(r:Remediation)
    WHERE r.key = v.agreementId + '|' + v.objectiveId + '|' + v.periodStart
    OPTIONAL MATCH (r)-[:HAS_EVIDENCE]->(e:Evidence)
    WITH a, v, o, r,
         collect(e {.id, .violationId, .recordedAt, .sha256, .content}) AS evidence
    RETURN v {.*} AS violation, a.kind AS kind, a.creditPolicy AS creditPolicy,
           o.target AS target, r.key AS remediationKey, evidence
    ORDER BY v.id
    """
)

# The latest credit of each chain of corrections (no credit corrects it) of these
# remediations, with the amounts of the credits it corrects, transitively (a chain is
# a line: each correction corrects one credit), and how many of them a person resolved.
CREDITS_OF_REMEDIATIONS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (r:Remediation {key: key})-[:HAS_CREDIT]->(c:Credit)
    WHERE NOT EXISTS { MATCH (:Credit)-[:CORRECTS]->(c) }
    OPTIONAL MATCH (c)-[:CORRECTS*1..100]->(earlier:Credit)
    WITH key, c, collect(earlier.amount) AS correctedAmounts,
         sum(CASE WHEN earlier.resolvedBy IS NOT NULL THEN 1 ELSE 0 END) AS resolved
    RETURN key, c {.*} AS credit, correctedAmounts, resolved
    ORDER BY c.id
    """
)

# Every objective of an agreement version in force at some time of the month, with the
# version's valid time (the part of the month it judged is worked out from it).
OBJECTIVES_IN_FORCE_DURING = Cypher(
    """
    OPTIONAL MATCH (given:Agreement)
    WHERE $ids IS NOT NULL AND given.id IN $ids
    WITH collect(DISTINCT coalesce(given.lineage, given.id)) AS lineages
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE ($ids IS NULL OR coalesce(a.lineage, a.id) IN lineages)
      AND NOT o.indicator IN $ticketIndicators
      AND """
    + validity.in_force_during("a", "$from", "$to")
    + " AND "
    + scope.agreement_visible("a")
    + """
    RETURN a.id AS agreementId, o.id AS objectiveId, a.effectiveFrom AS effectiveFrom,
           a.effectiveTo AS effectiveTo, a.sunsetAt AS sunsetAt
    ORDER BY a.id, o.id
    """
)

# The buckets with data of each objective per UTC day of [fromDay, toDay), counted in
# the graph (each TelemetryDay keeps `bucketsWithData`): one row per objective and day,
# the best of its sources (a day the primary lacks the secondary may fill).
OBJECTIVE_DAYS_COVERED = Cypher(
    """
    MATCH (d:TelemetryDay)
    WHERE d.day >= $fromDay AND d.day < $toDay AND d.objectiveId IN $ids
    WITH d.objectiveId AS objectiveId, d.day AS day,
         max(coalesce(d.bucketsWithData, 0)) AS buckets
    RETURN objectiveId, day, buckets
    """
)

# ---- the archived audit reports ---------------------------------------------------------

LOCK_AUDIT_REPORT_HEAD = Cypher(
    """
    MERGE (h:AuditReportHead {key: $key})
    ON CREATE SET h.sequence = 0
    SET h.lockedBy = $lockId
    """
)

READ_AUDIT_REPORT_HEAD = Cypher(
    """
    MATCH (h:AuditReportHead {key: $key})
    RETURN h.sequence AS sequence, h.sha256 AS sha256
    """
)

# The report that a new one of the same period corrects: the last archived of it.
LATEST_AUDIT_REPORT_OF_PERIOD = Cypher(
    """
    MATCH (p:AuditReport {period: $period})
    RETURN p.id AS id
    ORDER BY p.sequence DESC
    LIMIT 1
    """
)

# A new report after the head this transaction read; `appended` is 0 when the head
# moved meanwhile. `props`: id, sequence, period, createdAt, findings (JSON), content
# (canonical JSON), sha256, previousSha256, findingCount, correctsId.
ARCHIVE_AUDIT_REPORT = Cypher(
    """
    MATCH (h:AuditReportHead {key: $key})
    WHERE h.sequence = $previousSequence
    SET h.sequence = $sequence, h.sha256 = $sha256
    CREATE (n:AuditReport)
    SET n += $props
    RETURN count(n) AS appended
    """
)

LINK_CORRECTED_AUDIT_REPORT = Cypher(
    """
    MATCH (n:AuditReport {id: $id})
    MATCH (old:AuditReport {id: $correctsId})
    MERGE (n)-[:CORRECTS]->(old)
    """
)

AUDIT_REPORT_CHAIN = Cypher(
    """
    MATCH (n:AuditReport)
    RETURN n.id AS id, n.sequence AS sequence, n.content AS content, n.sha256 AS sha256,
           n.previousSha256 AS previousSha256
    ORDER BY n.sequence
    """
)

AUDIT_REPORTS_OF_PERIOD = Cypher(
    """
    MATCH (n:AuditReport {period: $period})
    OPTIONAL MATCH (n)-[:CORRECTS]->(old:AuditReport)
    RETURN n {.*} AS report, old.id AS correctsId
    ORDER BY n.sequence
    """
)

# ---- for tests only ---------------------------------------------------------------------

# For tests: plants a tampered amount on a credit, as a hand edit of the graph would,
# so that the audit has a wrong credit to find.
PLANT_CREDIT_AMOUNT = Cypher(
    """
    MATCH (c:Credit {id: $id})
    SET c.amount = $amount
    RETURN c.id AS id
    """
)

# For tests: plants edited content on an evidence record (its sha256 left as it was),
# as a hand edit of the graph would, so that the audit has tampered evidence to find.
PLANT_EVIDENCE_CONTENT = Cypher(
    """
    MATCH (e:Evidence {id: $id})
    SET e.content = $content
    RETURN e.id AS id
    """
)
