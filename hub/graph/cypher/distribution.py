"""Distribution lists, their scheduled runs, and report anomalies.

- `DistributionList` {id, name, template, businessUnits, regions, schedule, timeZone,
  channel, recipients (JSON), createdAt, createdBy, lastRunAt}.
- `DistributionRun` {key: `listId|scheduledAt`, id, listId, scheduledAt, status
  (CLAIMED, DONE, FAILED), holder, claimedUntil, snapshotId, periodFrom, periodTo,
  targets, error, doneAt}: one per scheduled run, MERGEd on its key; the claim that
  keeps two processes (or a restarted one) from making one run twice. Its deliveries
  are the outbox's `Notification`s whose `about` is the run's id.
- `ReportAnomaly` {key: `subject|periodStart`, id, at, serviceId, businessUnit,
  periodStart, compliance, baseline, detail, kinds}: one per service or unit and period.

The constraints and indexes below need a migration (the lead adds it).
"""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope, validity

DISTRIBUTION_LIST_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT distribution_list_id IF NOT EXISTS "
    "FOR (n:DistributionList) REQUIRE n.id IS UNIQUE"
)

DISTRIBUTION_RUN_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT distribution_run_key IF NOT EXISTS "
    "FOR (n:DistributionRun) REQUIRE n.key IS UNIQUE"
)

DISTRIBUTION_RUN_LIST_INDEX = Cypher(
    "CREATE INDEX distribution_run_list IF NOT EXISTS FOR (n:DistributionRun) ON (n.listId)"
)

REPORT_ANOMALY_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT report_anomaly_key IF NOT EXISTS "
    "FOR (n:ReportAnomaly) REQUIRE n.key IS UNIQUE"
)

REPORT_ANOMALY_PERIOD_INDEX = Cypher(
    "CREATE INDEX report_anomaly_period IF NOT EXISTS FOR (n:ReportAnomaly) ON (n.periodStart)"
)

# ---- lists ----------------------------------------------------------------------------

CREATE_DISTRIBUTION_LIST = Cypher(
    """
    MERGE (d:DistributionList {id: $id})
    ON CREATE SET d += $props
    RETURN d {.*} AS list
    """
)

DELETE_DISTRIBUTION_LIST = Cypher(
    """
    MATCH (d:DistributionList {id: $id})
    DETACH DELETE d
    RETURN count(*) AS deleted
    """
)

DISTRIBUTION_LISTS = Cypher(
    """
    MATCH (d:DistributionList)
    RETURN d {.*} AS list
    ORDER BY d.name, d.id
    """
)

DISTRIBUTION_LISTS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (d:DistributionList {id: id})
    RETURN d {.*} AS list
    """
)

# Lists of $template: anomalies go to the operations lists.
DISTRIBUTION_LISTS_OF_TEMPLATE = Cypher(
    """
    MATCH (d:DistributionList)
    WHERE d.template = $template
    RETURN d {.*} AS list
    ORDER BY d.id
    """
)

# ---- runs -----------------------------------------------------------------------------

# Claim one scheduled run for $holder: a new run is created claimed by it; a run that
# is not DONE and whose claim ran out (its process died) is taken over. Returns the run
# as it is now: the caller owns it iff holder = $holder and status = 'CLAIMED'. Two
# processes MERGEing one key at once: one creates it, the other loses the race and is
# retried by `Graph.write_transaction`, when it matches the claimed run.
CLAIM_DISTRIBUTION_RUN = Cypher(
    """
    MERGE (r:DistributionRun {key: $key})
    ON CREATE SET r.id = $runId, r.listId = $listId, r.scheduledAt = $scheduledAt,
                  r.status = 'CLAIMED', r.holder = $holder, r.claimedUntil = $until,
                  r.createdAt = $now
    WITH r, r.status <> 'DONE' AND r.holder <> $holder AND r.claimedUntil < $now AS takeOver
    SET r.holder = CASE WHEN takeOver THEN $holder ELSE r.holder END,
        r.claimedUntil = CASE WHEN takeOver THEN $until ELSE r.claimedUntil END,
        r.status = CASE WHEN takeOver THEN 'CLAIMED' ELSE r.status END
    RETURN r {.*} AS run
    """
)

# What was published for a claimed run, kept before delivering so that a process that
# takes the run over delivers the same snapshot.
RECORD_RUN_SNAPSHOT = Cypher(
    """
    MATCH (r:DistributionRun {key: $key})
    WHERE r.holder = $holder AND r.status = 'CLAIMED'
    SET r.snapshotId = $snapshotId, r.periodFrom = $periodFrom, r.periodTo = $periodTo
    RETURN r.id AS id
    """
)

# Settle a run as DONE (or FAILED), in the transaction of the notifications it enqueued.
FINISH_DISTRIBUTION_RUN = Cypher(
    """
    MATCH (r:DistributionRun {key: $key})
    WHERE r.holder = $holder AND r.status = 'CLAIMED'
    SET r.status = $status, r.doneAt = $now, r.error = $error, r.targets = $targets,
        r.channel = $channel
    RETURN r.id AS id, r.scheduledAt AS scheduledAt
    """
)

# Its list's lastRunAt moves on to a finished run's instant (never back).
ADVANCE_LAST_RUN = Cypher(
    """
    MATCH (d:DistributionList {id: $listId})
    WHERE d.lastRunAt IS NULL OR d.lastRunAt < $scheduledAt
    SET d.lastRunAt = $scheduledAt
    RETURN d.id AS id
    """
)

# The runs of a list that published a snapshot, newest first.
RUNS_OF_LIST = Cypher(
    """
    MATCH (r:DistributionRun {listId: $listId})
    WHERE r.snapshotId IS NOT NULL
    RETURN r {.*} AS run
    ORDER BY r.scheduledAt DESC
    LIMIT $limit
    """
)

# The outbox's deliveries of the given runs (`about` is the run's id).
DELIVERIES_OF_RUNS = Cypher(
    """
    UNWIND $runIds AS runId
    MATCH (n:Notification {about: runId})
    RETURN runId, n.id AS id, n.channel AS channel, n.target AS target,
           n.status AS status, n.attempts AS attempts, n.lastError AS lastError,
           n.createdAt AS createdAt, n.sentAt AS sentAt
    ORDER BY n.createdAt, n.id
    """
)

# ---- anomalies ------------------------------------------------------------------------

# Per SLA objective in force during [$from, $to): the services its agreement covers
# and the business unit of its customer (an SLA belongs to its customer's unit).
SLA_OBJECTIVES_BY_SERVICE = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE a.kind = 'SLA' AND """
    + validity.in_force_during("a", "$from", "$to")
    + """
    MATCH (a)-[:COVERS]->(s:Service)
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER]->(c:Customer)
    RETURN DISTINCT o {.*} AS objective, a.id AS agreementId, s.id AS serviceId,
           s.name AS serviceName, c.businessUnit AS businessUnit
    """
)

# Current violations of the given agreements' objectives starting in [$from, $to).
VIOLATION_COUNTS = Cypher(
    """
    MATCH (v:Violation)
    WHERE v.periodStart >= $from AND v.periodStart < $to AND v.supersededAt IS NULL
      AND v.agreementId IN $agreementIds
    RETURN v.agreementId AS agreementId, v.objectiveId AS objectiveId,
           v.periodStart AS periodStart
    """
)

# Record anomalies once per key; `fresh` says which this call created.
RECORD_ANOMALIES = Cypher(
    """
    UNWIND $rows AS row
    MERGE (x:ReportAnomaly {key: row.key})
    ON CREATE SET x += row.props, x.claim = $claim
    RETURN x.id AS id, x.key AS key, x.claim = $claim AS fresh
    """
)

# Anomalies whose period starts in [$from, $to) (either bound may be null) that the
# token may read: a service's with the service; a unit's for tokens of that unit not
# limited by region (a unit's figures span its regions). None for customer tokens.
REPORT_ANOMALIES = Cypher(
    """
    MATCH (x:ReportAnomaly)
    WHERE ($from IS NULL OR x.periodStart >= $from) AND ($to IS NULL OR x.periodStart < $to)
      AND """
    + scope.internal_visible()
    + """
    OPTIONAL MATCH (s:Service {id: x.serviceId})
    WITH x, s
    WHERE (x.serviceId IS NOT NULL AND s IS NOT NULL AND """
    + scope.service_visible("s")
    + """)
       OR (x.serviceId IS NULL AND ($scopeUnits IS NULL OR x.businessUnit IN $scopeUnits)
           AND $scopeRegions IS NULL)
    RETURN x {.*} AS anomaly
    ORDER BY x.periodStart DESC, x.key
    LIMIT $limit
    """
)

# One anomaly by id, if the token may read it (the rule of REPORT_ANOMALIES).
REPORT_ANOMALIES_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (x:ReportAnomaly {id: id})
    WHERE """
    + scope.internal_visible()
    + """
    OPTIONAL MATCH (s:Service {id: x.serviceId})
    WITH x, s
    WHERE (x.serviceId IS NOT NULL AND s IS NOT NULL AND """
    + scope.service_visible("s")
    + """)
       OR (x.serviceId IS NULL AND ($scopeUnits IS NULL OR x.businessUnit IN $scopeUnits)
           AND $scopeRegions IS NULL)
    RETURN x {.*} AS anomaly
    """
)

# ---- backups (entries for hub.graph.backup.kinds; none of these nodes has edges) -------

NODES_DISTRIBUTION_LIST = Cypher(
    "MATCH (n:DistributionList) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_DISTRIBUTION_RUN = Cypher(
    "MATCH (n:DistributionRun) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_REPORT_ANOMALY = Cypher(
    "MATCH (n:ReportAnomaly) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_DISTRIBUTION_LISTS = Cypher(
    "UNWIND $rows AS row MERGE (n:DistributionList {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_DISTRIBUTION_RUNS = Cypher(
    "UNWIND $rows AS row MERGE (n:DistributionRun {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_REPORT_ANOMALIES = Cypher(
    "UNWIND $rows AS row MERGE (n:ReportAnomaly {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
