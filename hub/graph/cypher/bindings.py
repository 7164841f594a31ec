"""Change control of agreement objectives' telemetry bindings (`hub.domain.change_control`):
which objectives it covers, pinning their bindings once, and refusals already audited."""

from hub.graph.cypher import Cypher
from hub.graph.cypher.validity import status_at

# Objectives of the versions in force now: measured by their own bindings. (A version
# not in force yet counts for nothing: its objectives are pinned once it is.)
LIVE_AGREEMENT_OBJECTIVES = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE a.state = 'APPROVED' AND """
    + status_at("a")
    + """ = 'ACTIVE'
    RETURN properties(o) AS props, a.id AS agreementId
    ORDER BY o.id
    """
)

# Which of $ids belong to approved versions no longer in force (superseded, expired or
# sunset): nothing measures them any more, whatever the settings name.
ENDED_AMONG = Cypher(
    """
    UNWIND $ids AS id
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective {id: id})
    WHERE a.state = 'APPROVED' AND NOT """
    + status_at("a")
    + """ IN ['SCHEDULED', 'ACTIVE']
    RETURN collect(DISTINCT o.id) AS ids
    """
)

# Set once: an objective that has bindings (authored, or pinned by an earlier or a
# concurrent run) keeps them, and is not returned.
PIN_OBJECTIVE_BINDINGS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})-[:HAS_OBJECTIVE]->(o:Objective {id: row.id})
    WHERE a.state = 'APPROVED' AND o.bindings IS NULL
    SET o.bindings = row.bindings, o.updatedAt = $now
    RETURN o.id AS id
    """
)

# The refusals (objective id and audited `after`) that already have their audit record.
AUDITED_REFUSALS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (r:AuditRecord {targetId: row.id})
    WHERE r.action = $action AND r.after = row.after
    RETURN DISTINCT row.id AS id, row.after AS after
    """
)
