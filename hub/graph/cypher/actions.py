"""Actions (CAPA): `(subject)-[:HAS_ACTION]->(x:Action)`, where the subject is a
Remediation, a ServiceReview or an Agreement (docs/remediation.md).

An action is readable and changeable with its subject's agreement: the agreement a
remediation or review hangs from (`HAS_REMEDIATION`, `HAS_SERVICE_REVIEW`), or the
agreement that is the subject. Actions are internal: never shown to customer tokens.
"""

from typing import LiteralString

from hub.graph.cypher import Cypher, scope

# The subject and its agreement, for an action `x` (by its stored `subjectId`):
# three index lookups instead of a scan over unlabelled nodes.
_AGREEMENT_OF_ACTION: LiteralString = """
    OPTIONAL MATCH (ra:Agreement)-[:HAS_REMEDIATION]->(:Remediation {id: x.subjectId})
    OPTIONAL MATCH (sa:Agreement)-[:HAS_SERVICE_REVIEW]->(:ServiceReview {id: x.subjectId})
    OPTIONAL MATCH (own:Agreement {id: x.subjectId})
    WITH x, coalesce(ra, sa, own) AS a
    WHERE a IS NOT NULL AND $scopeCustomer IS NULL AND """

ACTION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT action_id IF NOT EXISTS FOR (n:Action) REQUIRE n.id IS UNIQUE"
)
ACTION_SUBJECT_INDEX = Cypher(
    "CREATE INDEX action_subject IF NOT EXISTS FOR (n:Action) ON (n.subjectId)"
)
ACTION_STATUS_INDEX = Cypher(
    "CREATE INDEX action_status IF NOT EXISTS FOR (n:Action) ON (n.status)"
)

# Pre-generated ids: a retried transaction MERGEs the same nodes again.
CREATE_ACTIONS = Cypher(
    """
    OPTIONAL MATCH (r:Remediation {id: $subjectId})
    OPTIONAL MATCH (sr:ServiceReview {id: $subjectId})
    OPTIONAL MATCH (own:Agreement {id: $subjectId})
    WITH coalesce(r, sr, own) AS s
    WHERE s IS NOT NULL
    UNWIND $rows AS row
    MERGE (x:Action {id: row.id})
    ON CREATE SET x += row.props
    MERGE (s)-[:HAS_ACTION]->(x)
    RETURN x.id AS id
    """
)

ACTIONS_BY_IDS = Cypher(
    """
    UNWIND $ids AS actionId
    MATCH (x:Action {id: actionId})
    """
    + _AGREEMENT_OF_ACTION
    + scope.agreement_visible("a")
    + """
    RETURN properties(x) AS action, a.id AS agreementId
    """
)

# Actions of subjects the caller has read through the scope checkpoint already (a
# violation, a review): internal, so none for customer tokens.
ACTIONS_OF_SUBJECTS = Cypher(
    """
    MATCH (x:Action)
    WHERE x.subjectId IN $subjectIds AND $scopeCustomer IS NULL
    RETURN properties(x) AS action
    ORDER BY x.dueAt, x.id
    """
)

# OPEN -> DONE | CANCELLED; matches nothing once the action has left OPEN, so a
# concurrent change is never overwritten. The write lock first, then the compare
# (`hub.graph.cypher.agreements.TRANSITION_AGREEMENT` says why); the lock is no term of
# the action, so the closed action comes back without it.
CLOSE_ACTION = Cypher(
    """
    MATCH (x:Action {id: $id})
    SET x.lockedAt = $now
    WITH x
    WHERE x.status = 'OPEN'
    SET x.status = $status, x.doneAt = $doneAt, x.reason = $reason, x.link = $link,
        x.closedAt = $now, x.closedBy = $by
    REMOVE x.lockedAt
    RETURN properties(x) AS action
    """
)
