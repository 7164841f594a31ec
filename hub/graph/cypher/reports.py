"""Compliance reports (hub/graph/repositories/reports.py): the objectives a report
counts, their violations and credits, report commentary, and the archive of
published snapshots.

Snapshots form a hash chain (`hub.domain.reports.snapshot_hash`). The head (one
`ReportSnapshotHead` node) holds the last snapshot's sequence and hash; a publish
first sets a property on it, which takes its write lock on Neo4j (on ArcadeDB one of
two concurrent publishes fails and is run again), then reads it, as the audit
report chain does (hub/graph/cypher/periodic_audit.py). Nothing here changes a
`ReportSnapshot` or a `ReportFile` once created.

A snapshot's files are `ReportFile` nodes of at most 4 MiB each (ArcadeDB drops a
Bolt message over 16 MiB), so `hub backup` copies them with the graph.

Indexes wanted (the lead's migration): the constraints and indexes below.
"""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope, validity

# ---- schema (the lead adds them as a migration) -----------------------------------------

REPORT_SNAPSHOT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT report_snapshot_id IF NOT EXISTS "
    "FOR (n:ReportSnapshot) REQUIRE n.id IS UNIQUE"
)

REPORT_SNAPSHOT_SEQUENCE_INDEX = Cypher(
    "CREATE INDEX report_snapshot_sequence IF NOT EXISTS FOR (n:ReportSnapshot) ON (n.sequence)"
)

REPORT_FILE_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT report_file_key IF NOT EXISTS FOR (n:ReportFile) REQUIRE n.key IS UNIQUE"
)

REPORT_FILE_SNAPSHOT_INDEX = Cypher(
    "CREATE INDEX report_file_snapshot IF NOT EXISTS FOR (n:ReportFile) ON (n.snapshotId)"
)

REPORT_COMMENT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT report_comment_id IF NOT EXISTS FOR (n:ReportComment) REQUIRE n.id IS UNIQUE"
)

REPORT_COMMENT_SERVICE_INDEX = Cypher(
    "CREATE INDEX report_comment_service IF NOT EXISTS FOR (n:ReportComment) ON (n.serviceId)"
)

# For REPORT_DAY_SUMS: a report's objectives' days, by objective.
REPORT_TELEMETRY_DAY_OBJECTIVE_INDEX = Cypher(
    "CREATE INDEX telemetry_day_objective IF NOT EXISTS FOR (n:TelemetryDay) ON (n.objectiveId)"
)

REPORT_SNAPSHOT_HEAD_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT report_snapshot_head_key IF NOT EXISTS "
    "FOR (n:ReportSnapshotHead) REQUIRE n.key IS UNIQUE"
)

# ---- what a report counts ---------------------------------------------------------------

# The objectives of the agreement versions of `$kinds` in force at some time of
# [$from, $to) that the token may read, with what places them: the services the
# agreement covers, its customer (an SLA's unit and region are its customer's) and,
# for an OLA or UC, the customers of the SLAs it underpins. `$customerId` (or null)
# keeps one customer's SLAs only.
REPORT_OBJECTIVES = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE a.kind IN $kinds AND """
    + validity.in_force_during("a", "$from", "$to")
    + """
      AND """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER]->(c:Customer)
    WITH a, o, c
    WHERE $customerId IS NULL OR (a.kind = 'SLA' AND c.id = $customerId)
    OPTIONAL MATCH (a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(via:Customer)
    WITH a, o, c, collect(DISTINCT [via.businessUnit, via.region]) AS via
    OPTIONAL MATCH (a)-[:COVERS]->(s:Service)
    WITH a, o, c, via, collect(DISTINCT s {.id, .name, .businessUnit, .region}) AS services
    RETURN o {.*} AS objective, a.id AS agreementId, a.kind AS kind, a.name AS agreementName,
           a.effectiveFrom AS effectiveFrom, a.effectiveTo AS effectiveTo,
           c.id AS customerId, c.businessUnit AS customerUnit, c.region AS customerRegion,
           via, services
    ORDER BY o.id
    """
)

# The current revisions of the violations of these objectives whose period started in
# [$from, $to), with the credits of their remediation that no later credit corrects
# (amounts as decimal strings; none before the credit ledger exists).
REPORT_VIOLATIONS = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_VIOLATION]->(v:Violation)
    WHERE v.periodStart >= $from AND v.periodStart < $to AND v.supersededAt IS NULL
      AND v.objectiveId IN $ids
    OPTIONAL MATCH (a)-[:HAS_REMEDIATION]->(r:Remediation)
    WHERE r.key = v.agreementId + '|' + v.objectiveId + '|' + v.periodStart
    OPTIONAL MATCH (r)-[:HAS_CREDIT]->(cr:Credit)
    WHERE NOT EXISTS { MATCH (:Credit)-[:CORRECTS]->(cr) }
    WITH v, collect(cr.amount) AS amounts
    RETURN v.objectiveId AS objectiveId, v.periodStart AS periodStart, amounts
    """
)

# ---- commentary ---------------------------------------------------------------------

# A comment on a service the token may read; nothing comes back for another.
ADD_REPORT_COMMENT = Cypher(
    """
    MATCH (s:Service {id: $serviceId})
    WHERE """
    + scope.service_visible("s")
    + """
    MERGE (n:ReportComment {id: $props.id})
    ON CREATE SET n += $props
    RETURN n {.*} AS comment
    """
)

# The comments on these services in these months; `$internal` false keeps the
# customer-visible ones only.
REPORT_COMMENTS = Cypher(
    """
    MATCH (n:ReportComment)
    WHERE n.serviceId IN $serviceIds AND n.month IN $months
      AND ($internal OR n.visibility = 'CUSTOMER_VISIBLE')
    RETURN n {.*} AS comment
    ORDER BY n.at, n.id
    """
)

# ---- the archive --------------------------------------------------------------------

LOCK_REPORT_SNAPSHOT_HEAD = Cypher(
    """
    MERGE (h:ReportSnapshotHead {key: $key})
    ON CREATE SET h.sequence = 0, h.hash = $genesis
    SET h.lockedBy = $lockId
    """
)

READ_REPORT_SNAPSHOT_HEAD = Cypher(
    """
    MATCH (h:ReportSnapshotHead {key: $key})
    RETURN h.sequence AS sequence, h.hash AS hash
    """
)

# A new snapshot after the head this transaction read; `appended` is 0 when the head
# moved meanwhile.
ARCHIVE_REPORT_SNAPSHOT = Cypher(
    """
    MATCH (h:ReportSnapshotHead {key: $key})
    WHERE h.sequence = $previousSequence
    SET h.sequence = $sequence, h.hash = $hash
    MERGE (n:ReportSnapshot {id: $props.id})
    ON CREATE SET n += $props
    RETURN count(n) AS appended
    """
)

# Each row: key (`<snapshotId>.<ext>.<part>`) and props (snapshotId, format, part, data).
ADD_REPORT_FILE_PARTS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (n:ReportFile {key: row.key})
    ON CREATE SET n += row.props
    """
)

# Every snapshot, newest first, without its content (the listing reads it per page).
REPORT_SNAPSHOT_LIST = Cypher(
    """
    MATCH (n:ReportSnapshot)
    RETURN n.id AS id, n.sequence AS sequence, n.units AS units, n.regions AS regions,
           n.customerId AS customerId, n.redacted AS redacted
    ORDER BY n.sequence DESC
    """
)

REPORT_SNAPSHOTS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (n:ReportSnapshot {id: id})
    RETURN n {.*} AS snapshot
    """
)

# The chain in order, a page at a time (`hub report verify`).
REPORT_SNAPSHOT_CHAIN_PAGE = Cypher(
    """
    MATCH (n:ReportSnapshot)
    WHERE n.sequence > $after
    RETURN n {.*} AS snapshot
    ORDER BY n.sequence
    LIMIT $limit
    """
)

REPORT_FILE_PARTS = Cypher(
    """
    MATCH (n:ReportFile)
    WHERE n.snapshotId = $snapshotId AND n.format = $format
    RETURN n.part AS part, n.data AS data
    ORDER BY n.part
    """
)

# The per-day sums each `TelemetryDay` carries (written with its buckets by
# hub/graph/repositories/telemetry.py), summed per objective, source and month over
# the days [$fromDay, $toDay): what a whole month's buckets add up to. `days` and
# `summed` tell whether every stored day carries its sums (older nodes may not).
# Served by REPORT_TELEMETRY_DAY_OBJECTIVE_INDEX (500 objectives x 365 days: about
# 1.9 s, against 2.8-4.6 s for a range on the day index filtered by `IN $ids`).
REPORT_DAY_SUMS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (d:TelemetryDay {objectiveId: id})
    WHERE d.day >= $fromDay AND d.day < $toDay
    WITH d.objectiveId AS objectiveId, d.source AS source, substring(d.day, 0, 7) AS month,
         d.goodSum AS good, d.totalSum AS total, d.bucketsWithData AS buckets
    RETURN objectiveId, source, month, sum(good) AS good, sum(total) AS total,
           sum(buckets) AS buckets, count(*) AS days, count(buckets) AS summed
    """
)
