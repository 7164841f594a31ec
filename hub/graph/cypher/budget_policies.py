"""Error-budget policies (`hub.sync.budget_policies`): episodes, the actions taken in
them, and change freezes (docs/service-levels.md, "Error-budget policies").

Three labels, each keyed by a unique `key` and carrying the `objectiveId` it is about
(no relationships: what they point to is named by id, as audit records do):

- `BudgetEpisode` (`key` = objective id # sequence): a spell out of HEALTHY, with the
  phases it reached and when it ended;
- `PolicyAction` (`key` = episode key | phase | action): one action taken;
- `ChangeFreeze` (`key` = the episode's): a freeze on `serviceIds`, lifted at `liftedAt`.

A retried or concurrent run MERGEs the same keys: only the transaction whose
pre-generated `id` is on the node created it, and only its actions are audited and
notified.
"""

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.ownership import ACTED_ON, OWNER_UNITS

BUDGET_EPISODE_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT budget_episode_key IF NOT EXISTS "
    "FOR (n:BudgetEpisode) REQUIRE n.key IS UNIQUE"
)
BUDGET_EPISODE_OBJECTIVE_INDEX = Cypher(
    "CREATE INDEX budget_episode_objective IF NOT EXISTS FOR (n:BudgetEpisode) ON (n.objectiveId)"
)
POLICY_ACTION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT policy_action_key IF NOT EXISTS FOR (n:PolicyAction) REQUIRE n.key IS UNIQUE"
)
POLICY_ACTION_OBJECTIVE_INDEX = Cypher(
    "CREATE INDEX policy_action_objective IF NOT EXISTS FOR (n:PolicyAction) ON (n.objectiveId)"
)
CHANGE_FREEZE_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT change_freeze_key IF NOT EXISTS FOR (n:ChangeFreeze) REQUIRE n.key IS UNIQUE"
)
CHANGE_FREEZE_OBJECTIVE_INDEX = Cypher(
    "CREATE INDEX change_freeze_objective IF NOT EXISTS FOR (n:ChangeFreeze) ON (n.objectiveId)"
)

# The objectives a run judges: services' own and those of versions in force at $now
# ($ids: only these; null: all), with what the policy needs: the agreement (version
# and lineage) a policy may be set for, the services (tier, unit, to be frozen) and the
# owner teams (the objective's provider and consumer; without either, the team owning
# a service objective's service). Not scoped: the job is the hub itself.
POLICY_OBJECTIVES = Cypher(
    ACTED_ON
    + """
    WITH o, owner, CASE WHEN 'Service' IN labels(owner) THEN [owner] ELSE covered END AS services
    OPTIONAL MATCH (provider:Team {id: o.providerTeamId})
    OPTIONAL MATCH (consumer:Team {id: o.consumerTeamId})
    OPTIONAL MATCH (owner)-[:OWNED_BY]->(keeper:Team)
    WITH o, owner, services, provider, consumer, collect(keeper)[0] AS keeper
    RETURN properties(o) AS objective,
           CASE WHEN 'Agreement' IN labels(owner) THEN owner.id END AS agreementId,
           CASE WHEN 'Agreement' IN labels(owner) THEN owner.lineage END AS lineage,
           owner.name AS ownerName,
           [x IN services | x.id] AS serviceIds,
           [x IN services | x.name] AS serviceNames,
           [x IN services | x.tier] AS tiers,
           """
    + OWNER_UNITS
    + """ AS units,
           o.monitoringMode AS mode,
           [t IN CASE WHEN provider IS NULL AND consumer IS NULL THEN [keeper]
                      ELSE [provider, consumer] END
            WHERE t IS NOT NULL | {id: t.id, name: t.name}] AS owners
    """
)

# The latest episode of each objective (open or ended), and its freezes in force.
LATEST_EPISODES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (e:BudgetEpisode {objectiveId: id})
    WITH id, e ORDER BY e.sequence DESC
    WITH id, collect(properties(e))[0] AS episode
    RETURN id, episode
    """
)

ACTIVE_FREEZES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (f:ChangeFreeze {objectiveId: id})
    WHERE f.liftedAt IS NULL
    RETURN id, f.key AS key
    """
)

# Started, reached a phase, or ended: phases only grow and an ended episode stays
# ended, whichever of two racing runs writes last.
WRITE_EPISODES = Cypher(
    """
    UNWIND $rows AS row
    MERGE (e:BudgetEpisode {key: row.key})
    ON CREATE SET e.objectiveId = row.objectiveId, e.sequence = row.sequence,
                  e.startedAt = row.startedAt, e.phases = []
    SET e.phases = coalesce(e.phases, []) +
                   [p IN row.phases WHERE NOT p IN coalesce(e.phases, [])],
        e.endedAt = coalesce(e.endedAt, row.endedAt),
        e.updatedAt = row.at
    RETURN e.key AS key
    """
)

RECORD_ACTIONS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (a:PolicyAction {key: row.key})
    ON CREATE SET a += row.props
    WITH row, a
    WHERE a.id = row.props.id
    RETURN row.key AS key
    """
)

SET_FREEZES = Cypher(
    """
    UNWIND $rows AS row
    MERGE (f:ChangeFreeze {key: row.key})
    ON CREATE SET f += row.props
    WITH row, f
    WHERE f.id = row.props.id
    RETURN row.key AS key
    """
)

# The first SET write-locks the freeze before `liftedAt` is compared: on ArcadeDB a
# record read by the WHERE but not yet written is not under the commit-time conflict
# check, so two racing lifts could both pass and both be audited and told (see
# TRANSITION_AGREEMENT in hub.graph.cypher.agreements). Written first, the later of two
# lifts fails at commit, is retried, and finds the freeze lifted.
LIFT_FREEZES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (f:ChangeFreeze {key: row.key})
    SET f.lockedAt = row.at
    WITH row, f
    WHERE f.liftedAt IS NULL
    SET f.liftedAt = row.at, f.liftReason = row.reason
    RETURN f.key AS key
    """
)

# The API's reads: internal records, in the scope of their objective or service. A
# service's freezes are found through its objectives' ids (indexed): its own objectives
# and those of the agreement versions covering it, a freeze naming the service. (On
# ArcadeDB a list sum over an aggregate in the aggregating WITH fails: two WITHs.)
ACTIONS_OF_OBJECTIVES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    WHERE """
    + scope.internal_visible()
    + " AND "
    + scope.objective_visible("o")
    + """
    MATCH (a:PolicyAction {objectiveId: id})
    RETURN id, properties(a) AS action
    ORDER BY a.at, a.key
    """
)

FREEZES_OF_SERVICES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (s:Service {id: id})
    WHERE """
    + scope.internal_visible()
    + " AND "
    + scope.service_visible("s")
    + """
    OPTIONAL MATCH (s)-[:HAS_OBJECTIVE]->(own:Objective)
    WITH id, s, collect(own.id) AS owned
    OPTIONAL MATCH (s)<-[:COVERS]-(:Agreement)-[:HAS_OBJECTIVE]->(agreed:Objective)
    WITH id, owned, collect(agreed.id) AS agreedIds
    WITH id, owned + agreedIds AS objectiveIds
    UNWIND objectiveIds AS objectiveId
    WITH DISTINCT id, objectiveId
    MATCH (f:ChangeFreeze {objectiveId: objectiveId})
    WHERE id IN f.serviceIds
    RETURN id, properties(f) AS freeze
    ORDER BY f.since DESC, f.key
    """
)

# Backup (hub.graph.backup.kinds): every node by its key; no relationships.
NODES_BUDGET_EPISODE = Cypher(
    "MATCH (n:BudgetEpisode) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_BUDGET_EPISODES = Cypher(
    "UNWIND $rows AS row MERGE (n:BudgetEpisode {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_POLICY_ACTION = Cypher(
    "MATCH (n:PolicyAction) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_POLICY_ACTIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:PolicyAction {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_CHANGE_FREEZE = Cypher(
    "MATCH (n:ChangeFreeze) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_CHANGE_FREEZES = Cypher(
    "UNWIND $rows AS row MERGE (n:ChangeFreeze {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
