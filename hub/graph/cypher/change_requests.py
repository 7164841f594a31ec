"""Change requests: `(r:ChangeRequest)-[:ABOUT]->(a:Agreement)`, and, once accepted,
`(r)-[:OPENED]->(draft:Agreement)`.

A request is read and changed with its agreement (`_VISIBLE`): staff tokens where they
may read the agreement version it names (`scope.agreement_visible`). A `customer` token
reads the requests submitted with a token of its own customer (`r.customerId`), while
one version of the agreement's lineage is still readable to it (its SLA in force): a
request keeps its customer's view of the outcome after the revision it opened
replaced the version it named. Staff-submitted requests are internal and never shown
to customer tokens. `shownAgreementId` is the version the reader is shown: the one
named, or for a customer whose version was replaced, the one now in force.
"""

from hub.graph.cypher import Cypher, scope

_VISIBLE = (
    "(($scopeCustomer IS NULL AND "
    + scope.agreement_visible("a")
    + ") OR ($scopeCustomer IS NOT NULL AND r.customerId = $scopeCustomer"
    + " AND EXISTS { MATCH (v:Agreement {lineage: a.lineage}) WHERE "
    + scope.agreement_visible("v")
    + " }))"
)

# The version the reader is shown as the request's agreement (see the module doc).
_RETURN = (
    """
    OPTIONAL MATCH (s:Agreement {lineage: a.lineage})
    WHERE """
    + scope.agreement_visible("s")
    + """
    WITH r, a, s ORDER BY s.version DESC
    WITH r, a, collect(s.id) AS shown
    RETURN properties(r) AS props, a.id AS agreementId,
           CASE WHEN a.id IN shown THEN a.id ELSE head(shown) END AS shownAgreementId
    """
)

# ---- writing ----------------------------------------------------------------------------

# The agreement a request names, if the requester may read it.
READABLE_AGREEMENT = Cypher(
    """
    MATCH (a:Agreement {id: $id})
    WHERE """
    + scope.agreement_visible("a")
    + """
    RETURN a.id AS id, a.lineage AS lineage
    """
)

# props: every property but the id. Idempotent: a transaction run again finds the node.
CREATE_CHANGE_REQUEST = Cypher(
    """
    MATCH (a:Agreement {id: $agreementId})
    MERGE (r:ChangeRequest {id: $id})
    ON CREATE SET r += $props
    MERGE (r)-[:ABOUT]->(a)
    RETURN r.id AS id
    """
)

# A compare-and-set on the status: a decision that another one overtook matches nothing.
# The write lock first, then the compare (`hub.graph.cypher.agreements.TRANSITION_AGREEMENT`
# says why: without it both engines can lose one of two racing changes).
DECIDE_CHANGE_REQUEST = Cypher(
    """
    MATCH (r:ChangeRequest {id: $id})-[:ABOUT]->(a:Agreement)
    WHERE """
    + _VISIBLE
    + """
    SET r.lockedAt = $decidedAt
    WITH r
    WHERE r.status = 'SUBMITTED'
    SET r.status = $status, r.decidedBy = $decidedBy, r.decidedAt = $decidedAt,
        r.reason = $reason, r.revisionId = $revisionId
    RETURN r.id AS id
    """
)

LINK_REVISION = Cypher(
    """
    MATCH (r:ChangeRequest {id: $id})
    MATCH (d:Agreement {id: $revisionId})
    MERGE (r)-[:OPENED]->(d)
    RETURN d.id AS id
    """
)

# ---- reading, for a reader -------------------------------------------------------------

CHANGE_REQUESTS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (r:ChangeRequest {id: id})-[:ABOUT]->(a:Agreement)
    WHERE """
    + _VISIBLE
    + _RETURN
)

# Newest first, at most $limit; of the given statuses when $statuses is not null.
LIST_CHANGE_REQUESTS = Cypher(
    """
    MATCH (r:ChangeRequest)-[:ABOUT]->(a:Agreement)
    WHERE ($statuses IS NULL OR r.status IN $statuses)
      AND ($agreementId IS NULL OR a.id = $agreementId)
      AND """
    + _VISIBLE
    + """
    WITH r, a ORDER BY r.at DESC, r.id DESC LIMIT $limit
    """
    + _RETURN
    + """
    ORDER BY props.at DESC, props.id DESC
    """
)

# An index for the lists' order; the lead adds it as a migration.
CHANGE_REQUEST_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT change_request_id IF NOT EXISTS FOR (r:ChangeRequest) REQUIRE r.id IS UNIQUE"
)
