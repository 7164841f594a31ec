"""Objective ownership and monitoring mode: operational metadata on `Objective` nodes
(`providerTeamId`, `consumerTeamId`, `monitoringMode`), never terms of the agreement
(docs/service-levels.md, "Ownership and monitoring mode")."""

from typing import LiteralString

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force

# The objectives the hub's own jobs act on (error-budget policies, at-risk escalation):
# of $ids (or all: null), services' own and those of agreement versions in force at
# $now; binds `owner` and `o`, and `covered` (the services an agreement covers). Not
# scoped: the jobs are the hub itself.
ACTED_ON: LiteralString = (
    """
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE ($ids IS NULL OR o.id IN $ids)
      AND (NOT 'Agreement' IN labels(owner) OR """
    + in_force("owner", "$now")
    + """)
    OPTIONAL MATCH (owner)-[:COVERS]->(s:Service)
    WITH o, owner, collect(s) AS covered"""
)

# The business units of an objective's `owner` that choose the escalation matrix's
# per-unit recipients: a service's own; an agreement's customers' (for an OLA or UC,
# those of the SLAs it underpins), as for violations (`escalations.DUE_REMEDIATIONS`).
OWNER_UNITS: LiteralString = """
    CASE WHEN 'Service' IN labels(owner) THEN [owner.businessUnit]
         ELSE [(owner)-[:FOR_CUSTOMER]->(c:Customer) | c.businessUnit]
              + [(owner)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(u:Customer)
                 | u.businessUnit] END"""

# The tier an objective's defaults come from: its service's, or the tiers of every
# service its agreement covers (the highest wins, in hub.domain.boards.highest_tier).
# Each row: id, provider, consumer, mode, tiers.
OBJECTIVE_MONITORING = Cypher(
    """
    UNWIND $ids AS id
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective {id: id})
    WHERE """
    + scope.objective_visible("o")
    + """
    OPTIONAL MATCH (owner)-[:COVERS]->(s:Service)
    WITH o, owner, collect(s.tier) AS covered
    RETURN o.id AS id, o.providerTeamId AS provider, o.consumerTeamId AS consumer,
           o.monitoringMode AS mode,
           CASE WHEN 'Service' IN labels(owner) THEN [owner.tier] ELSE covered END AS tiers
    """
)

# The tiers of the objectives a telemetry sync measures: services' own, and those of the
# versions in force at $now, not every version ever written. One left out (a draft's,
# bound by the settings) keeps its connector's interval. Not scoped: the scheduler is
# the hub itself.
LIVE_OBJECTIVE_TIERS = Cypher(
    """
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE NOT 'Agreement' IN labels(owner) OR """
    + in_force("owner", "$now")
    + """
    OPTIONAL MATCH (owner)-[:COVERS]->(s:Service)
    WITH o, owner, collect(s.tier) AS covered
    RETURN o.id AS id,
           CASE WHEN 'Service' IN labels(owner) THEN [owner.tier] ELSE covered END AS tiers
    """
)

TEAMS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (t:Team {id: id})
    RETURN t.id AS id
    """
)

# The teams each of $refs names: by id, else by name (`hub slo apply`'s annotations).
TEAMS_BY_REFS = Cypher(
    """
    UNWIND $refs AS ref
    OPTIONAL MATCH (byId:Team {id: ref})
    WITH ref, collect(byId.id) AS byId
    OPTIONAL MATCH (byName:Team {name: ref})
    RETURN ref, byId, collect(byName.id) AS byName
    """
)

# Each row: id, provider, consumer, mode (null clears).
SET_OBJECTIVES_OWNERSHIP = Cypher(
    """
    UNWIND $rows AS row
    MATCH (o:Objective {id: row.id})
    SET o.providerTeamId = row.provider, o.consumerTeamId = row.consumer,
        o.monitoringMode = row.mode, o.ownershipUpdatedAt = $now
    RETURN o.id AS id
    """
)
