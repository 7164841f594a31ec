"""Escalation when at risk (`hub.domain.at_risk`, `hub.sync.at_risk`).

- `(e:AtRiskEscalation)-[:OF_OBJECTIVE]->(o:Objective)`: one per episode of an
  ACTIVE-mode objective at risk, {id, key: `objectiveId#sequence` (unique), objectiveId,
  sequence (the objective's episodes from 1), episodeStart, status (OPEN, ACKNOWLEDGED,
  CLOSED), position (of the path, the highest told), level and levelName (of the
  matrix), escalatedAt, acknowledgedAt, acknowledgedBy, note, closedAt, closeReason,
  lockedAt}.
- `(e)-[:ESCALATED]->(s:Escalation)`: each position told, the matrix's own record
  {id, stepKey: `<episodeKey>|<position>` (unique, migration 16), subjectId (the
  episode's id), position, level, levelName, at, to, reason}; a retried or concurrent
  run records a position once.

Every write that checks a status first sets a property of the node it checks
(`o.atRiskLockedAt`, `e.lockedAt`), and only then compares: that write takes the
record's lock, so the check is a compare-and-set on both engines (see the comment on
`agreements.TRANSITION_AGREEMENT`). A run and an acknowledgement that race are put in
order: the later one to commit is run again by the driver and sees the other's write.

Episodes and their steps are internal records: customer tokens read none; staff read
those of objectives in their scope (`scope.objective_visible`).
"""

from __future__ import annotations

from typing import LiteralString

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.ownership import ACTED_ON, OWNER_UNITS

AT_RISK_ESCALATION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT at_risk_escalation_id IF NOT EXISTS "
    "FOR (n:AtRiskEscalation) REQUIRE n.id IS UNIQUE"
)
AT_RISK_ESCALATION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT at_risk_escalation_key IF NOT EXISTS "
    "FOR (n:AtRiskEscalation) REQUIRE n.key IS UNIQUE"
)
AT_RISK_ESCALATION_STATUS_INDEX = Cypher(
    "CREATE INDEX at_risk_escalation_status IF NOT EXISTS FOR (n:AtRiskEscalation) ON (n.status)"
)

# Every objective the job may judge (of $ids, or all: null): services' own, and those
# of agreement versions in force at $now; with its explicit mode and the tiers its
# defaults come from (as `ownership.OBJECTIVE_MONITORING`), what a notice names, and
# the business units the matrix's per-unit recipients are chosen by. Not scoped: the
# job is the hub itself.
AT_RISK_CANDIDATES = Cypher(
    ACTED_ON
    + """
    WITH o, owner, [x IN covered | x.tier] AS covered, 'Service' IN labels(owner) AS ofService
    RETURN o {.*} AS objective, o.monitoringMode AS mode,
           CASE WHEN ofService THEN [owner.tier] ELSE covered END AS tiers,
           owner.id AS ownerId, owner.name AS ownerName,
           CASE WHEN ofService THEN 'Service' ELSE owner.kind END AS ownerKind,"""
    + OWNER_UNITS
    + """ AS units
    """
)

# The highest sequence number of each objective's episodes, closed ones included (of
# $ids, or all), and how many it has: a new episode takes the number after the larger.
# Episodes stored before sequence numbers (keyed `objectiveId|episodeStart`) have none
# but are counted, so a new one never takes number 1, the number such an episode's
# later steps are keyed by (`repositories.at_risk.AtRiskEscalation.episode`).
EPISODE_SEQUENCES = Cypher(
    """
    MATCH (e:AtRiskEscalation)
    WHERE ($ids IS NULL OR e.objectiveId IN $ids)
    WITH e.objectiveId AS id, max(coalesce(e.sequence, 0)) AS highest, count(e) AS episodes
    RETURN id, CASE WHEN highest > episodes THEN highest ELSE episodes END AS sequence
    """
)

_STEPS: LiteralString = "[(e)-[:ESCALATED]->(s:Escalation) | properties(s)] AS steps"

# The episodes not closed (of the objectives $ids, or all), each with its steps: what
# the job climbs or closes.
UNCLOSED_EPISODES = Cypher(
    """
    MATCH (e:AtRiskEscalation)
    WHERE e.status IN ['OPEN', 'ACKNOWLEDGED'] AND ($ids IS NULL OR e.objectiveId IN $ids)
    RETURN properties(e) AS escalation, """
    + _STEPS
)

# A new episode per row, unless its objective has one not closed (a run that read
# before another's write committed). The objective is write-locked before that check,
# so two runs cannot both pass it; and the episode is MERGEd on its unique key
# (`objectiveId#sequence`), which two runs that read the same episodes make alike.
# Only the rows this transaction created are returned (their pre-generated id), so only
# those are audited.
OPEN_EPISODES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (o:Objective {id: row.objectiveId})
    SET o.atRiskLockedAt = row.props.episodeStart
    WITH row, o
    WHERE NOT EXISTS {
      MATCH (x:AtRiskEscalation)-[:OF_OBJECTIVE]->(o) WHERE x.status <> 'CLOSED'
    }
    MERGE (e:AtRiskEscalation {key: row.key})
    ON CREATE SET e += row.props
    WITH row, o, e
    WHERE e.id = row.props.id
    CREATE (e)-[:OF_OBJECTIVE]->(o)
    RETURN row.key AS key
    """
)

# One step per position told: MERGEd on the unique step key, and only onto an episode
# still OPEN once this transaction holds its lock (an acknowledgement committed
# meanwhile stops it). Returns the step keys this transaction created: only those are
# audited and notified.
RECORD_STEPS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (e:AtRiskEscalation {key: row.episodeKey})
    SET e.lockedAt = row.props.at
    WITH row, e
    WHERE e.status = 'OPEN'
    MERGE (s:Escalation {stepKey: row.props.stepKey})
    ON CREATE SET s += row.props
    WITH row, e, s
    WHERE s.id = row.props.id
    CREATE (e)-[:ESCALATED]->(s)
    SET e.position = row.props.position, e.level = row.props.level,
        e.levelName = row.props.levelName, e.escalatedAt = row.props.at
    RETURN row.props.stepKey AS stepKey
    """
)

# Close each episode not closed yet, once this transaction holds its lock.
CLOSE_EPISODES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (e:AtRiskEscalation {id: row.id})
    SET e.lockedAt = row.at
    WITH row, e
    WHERE e.status <> 'CLOSED'
    SET e.status = 'CLOSED', e.closedAt = row.at, e.closeReason = row.reason
    RETURN e.id AS id
    """
)

_VISIBLE: LiteralString = "$scopeCustomer IS NULL AND " + scope.objective_visible("o")

# The API's list: newest episode first (then by id), at most $limit.
AT_RISK_ESCALATIONS = Cypher(
    """
    MATCH (e:AtRiskEscalation)-[:OF_OBJECTIVE]->(o:Objective)
    WHERE ($status IS NULL OR e.status = $status)
      AND ($objectiveId IS NULL OR o.id = $objectiveId)
      AND """
    + _VISIBLE
    + """
    RETURN properties(e) AS escalation, """
    + _STEPS
    + """
    ORDER BY e.episodeStart DESC, e.id
    LIMIT $limit
    """
)

AT_RISK_ESCALATION_BY_ID = Cypher(
    """
    MATCH (e:AtRiskEscalation {id: $id})-[:OF_OBJECTIVE]->(o:Objective)
    WHERE """
    + _VISIBLE
    + """
    RETURN properties(e) AS escalation, """
    + _STEPS
)

# Acknowledge the episode if it is OPEN once this transaction holds its lock (a run
# that closed it or told the next level meanwhile is not overwritten); no row if not.
ACKNOWLEDGE = Cypher(
    """
    MATCH (e:AtRiskEscalation {id: $id})
    SET e.lockedAt = $at
    WITH e
    WHERE e.status = 'OPEN'
    SET e.status = 'ACKNOWLEDGED', e.acknowledgedAt = $at, e.acknowledgedBy = $by,
        e.note = $note
    RETURN properties(e) AS escalation
    """
)

# ---- backup (hub.graph.backup.kinds)

NODES_AT_RISK_ESCALATION = Cypher(
    "MATCH (n:AtRiskEscalation) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_AT_RISK_ESCALATION = Cypher(
    """
    MATCH (a:AtRiskEscalation)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_AT_RISK_ESCALATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:AtRiskEscalation {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_AT_RISK_OF_OBJECTIVE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:AtRiskEscalation {id: row.from})
    MATCH (b:Objective {id: row.to})
    MERGE (a)-[r:OF_OBJECTIVE]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AT_RISK_ESCALATED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:AtRiskEscalation {id: row.from})
    MATCH (b:Escalation {id: row.to})
    MERGE (a)-[r:ESCALATED]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
