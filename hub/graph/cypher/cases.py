"""Cases opened in a ticketing tool for pending approvals and due reviews
(`hub.sync.cases`).

A `(:Case)` is keyed twice: `id`, the correlation id the hub makes up and sends to the
tool, and `subjectKey`, what it is a case for (`approval:<version>:<submittedAt>`,
`review:<version>:<due>`), unique, so that two runs (or two hub processes) racing to
open one case for a subject MERGE into one node. It goes PENDING (claimed, maybe not
yet in the tool) -> OPEN (the tool has it, `key`) -> CLOSED, or CANCELLED when its
subject was resolved before the tool ever had it.
"""

from hub.graph.cypher import Cypher

# The versions waiting for approval, each with its submission time (a version is
# submitted once: a rejected or withdrawn one stays so).
PENDING_APPROVALS = Cypher(
    """
    MATCH (a:Agreement)
    WHERE a.state = 'PENDING_APPROVAL'
    RETURN a.id AS id, a.kind AS kind, a.name AS name, a.version AS version,
           a.submittedBy AS submittedBy, a.submittedAt AS submittedAt
    ORDER BY a.id
    """
)

# Claim a subject's case. Only the first claim creates the node; a later one (or a
# retried transaction) reads what is there.
CLAIM_CASE = Cypher(
    """
    MERGE (c:Case {subjectKey: $subjectKey})
    ON CREATE SET c.id = $id, c.system = $system, c.kind = $kind, c.subjectId = $subjectId,
                  c.due = $due, c.summary = $summary, c.description = $description,
                  c.state = 'PENDING',
                  c.createdAt = $now
    RETURN properties(c) AS props
    """
)

MARK_OPEN = Cypher(
    """
    MATCH (c:Case {id: $id})
    WHERE c.state = 'PENDING'
    SET c.state = 'OPEN', c.key = $key, c.number = $number, c.openedAt = $now
    RETURN c.id AS id
    """
)

MARK_CLOSED = Cypher(
    """
    MATCH (c:Case {id: $id})
    WHERE c.state IN ['PENDING', 'OPEN']
    SET c.state = $state, c.key = coalesce($key, c.key), c.number = coalesce($number, c.number),
        c.closedAt = $now, c.resolution = $resolution
    RETURN c.id AS id
    """
)

# The cases not yet closed, with their subject as stored and its reviews' times.
UNRESOLVED_CASES = Cypher(
    """
    MATCH (c:Case)
    WHERE c.state IN ['PENDING', 'OPEN']
    MATCH (a:Agreement {id: c.subjectId})
    RETURN properties(c) AS props, properties(a) AS subject,
           [(a)<-[:REVIEWS]-(review:Review) | review.reviewedAt] AS reviewedAt
    ORDER BY c.createdAt, c.id
    """
)

CASES_BY_SUBJECT = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Case {subjectId: id})
    RETURN properties(c) AS props
    ORDER BY c.createdAt, c.id
    """
)

# ---- migration 14: reviews and cases ------------------------------------------------

CASE_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT case_id IF NOT EXISTS FOR (n:Case) REQUIRE n.id IS UNIQUE"
)
CASE_SUBJECT_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT case_subject_key IF NOT EXISTS FOR (n:Case) REQUIRE n.subjectKey IS UNIQUE"
)
CASE_STATE_INDEX = Cypher("CREATE INDEX case_state IF NOT EXISTS FOR (n:Case) ON (n.state)")
CASE_SUBJECT_INDEX = Cypher("CREATE INDEX case_subject IF NOT EXISTS FOR (n:Case) ON (n.subjectId)")
