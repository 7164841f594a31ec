"""Service exceptions: `(e:ServiceException)-[:EXCUSES]->(c:Component)`.

An exception is internal and scoped through the components it names
(`docs/security.md`): a token reads it when it may read at least one of them
(`_VISIBLE`), and changes it only when it may read every one (`_CHANGEABLE`), so
nobody excuses a service they cannot see. Customer tokens read none. Every statement
that returns or changes exceptions for a reader composes one of the two; the engine's
read of approved windows (`EXCUSED_WINDOWS`) is the system's and reads all.

Approvals are stored as JSON text (`hub.domain.exceptions.approvals_json`): a node
property cannot hold a list of maps.
"""

from hub.graph.cypher import Cypher, scope

_VISIBLE = (
    "("
    + scope.UNLIMITED
    + " OR ($scopeCustomer IS NULL AND EXISTS { MATCH (e)-[:EXCUSES]->(ev:Component) WHERE "
    + scope.component_visible("ev")
    + " }))"
)

_CHANGEABLE = (
    "("
    + scope.UNLIMITED
    + " OR ($scopeCustomer IS NULL AND NOT EXISTS { MATCH (e)-[:EXCUSES]->(ec:Component)"
    + " WHERE NOT "
    + scope.component_visible("ec")
    + " }))"
)

# ---- writing ----------------------------------------------------------------------------

# The components a request names that exist and that the requester may read.
READABLE_COMPONENTS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})
    WHERE """
    + scope.component_visible("c")
    + """
    RETURN c.id AS id
    """
)

# props: every property but the id. Idempotent: a transaction run again finds the node.
CREATE_EXCEPTION = Cypher(
    """
    MERGE (e:ServiceException {id: $id})
    ON CREATE SET e += $props
    RETURN e.id AS id
    """
)

LINK_EXCUSED = Cypher(
    """
    MATCH (e:ServiceException {id: $id})
    UNWIND $components AS componentId
    MATCH (c:Component {id: componentId})
    MERGE (e)-[:EXCUSES]->(c)
    RETURN count(c) AS linked
    """
)

# A compare-and-set on the status: a change that another one overtook matches nothing.
# The write lock first, then the compare (`hub.graph.cypher.agreements.TRANSITION_AGREEMENT`
# says why: without it both engines can lose one of two racing changes).
TRANSITION_EXCEPTION = Cypher(
    """
    MATCH (e:ServiceException {id: $id})
    WHERE """
    + _CHANGEABLE
    + """
    SET e.lockedAt = $changedAt
    WITH e
    WHERE e.status = $expectedStatus
    SET e.status = $status, e.approvals = $approvals, e.statusReason = $statusReason,
        e.changedBy = $changedBy, e.changedAt = $changedAt
    RETURN e.id AS id
    """
)

# ---- reading, for a reader -------------------------------------------------------------

# Each exception with the ids of every component it names and of those the reader may
# read: the schema shows the latter, a change needs them to be the same.
EXCEPTIONS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (e:ServiceException {id: id})
    WHERE """
    + _VISIBLE
    + """
    OPTIONAL MATCH (e)-[:EXCUSES]->(c:Component)
    WITH e, collect(c.id) AS componentIds
    OPTIONAL MATCH (e)-[:EXCUSES]->(r:Component)
    WHERE """
    + scope.component_visible("r")
    + """
    RETURN properties(e) AS props, componentIds, collect(r.id) AS readableIds
    """
)

# Exceptions overlapping [$from, $to) (either end open when null), soonest first.
LIST_EXCEPTIONS = Cypher(
    """
    MATCH (e:ServiceException)
    WHERE ($statuses IS NULL OR e.status IN $statuses)
      AND ($from IS NULL OR e.end > $from)
      AND ($to IS NULL OR e.start < $to)
      AND """
    + _VISIBLE
    + """
    WITH e
    ORDER BY e.start, e.id
    LIMIT $limit
    OPTIONAL MATCH (e)-[:EXCUSES]->(c:Component)
    WITH e, collect(c.id) AS componentIds
    OPTIONAL MATCH (e)-[:EXCUSES]->(r:Component)
    WHERE """
    + scope.component_visible("r")
    + """
    WITH e, componentIds, collect(r.id) AS readableIds
    ORDER BY e.start, e.id
    RETURN properties(e) AS props, componentIds, readableIds
    """
)

# The same, of one component, which the reader must be able to read itself: asking
# about a component out of scope answers as for one that does not exist.
COMPONENT_EXCEPTIONS = Cypher(
    """
    MATCH (q:Component {id: $componentId})<-[:EXCUSES]-(e:ServiceException)
    WHERE ($statuses IS NULL OR e.status IN $statuses)
      AND ($from IS NULL OR e.end > $from)
      AND ($to IS NULL OR e.start < $to)
      AND """
    + scope.component_visible("q")
    + """
    WITH DISTINCT e
    ORDER BY e.start, e.id
    LIMIT $limit
    OPTIONAL MATCH (e)-[:EXCUSES]->(c:Component)
    WITH e, collect(c.id) AS componentIds
    OPTIONAL MATCH (e)-[:EXCUSES]->(r:Component)
    WHERE """
    + scope.component_visible("r")
    + """
    WITH e, componentIds, collect(r.id) AS readableIds
    ORDER BY e.start, e.id
    RETURN properties(e) AS props, componentIds, readableIds
    """
)

# ---- what the engine reads ---------------------------------------------------------------

# The APPROVED windows that overlap [$from, $to) (from open when null) of the
# components each objective answers for: what its agreement covers, or the service
# that holds it (an agreement that covers nothing answers for no component). The match
# starts from the objective: from an unlabelled owner, ArcadeDB took ~35x longer
# (benchmarks/suggestions.py, docs/benchmarks.md "Suggestions").
EXCUSED_WINDOWS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Objective {id: id})<-[:HAS_OBJECTIVE]-(owner)
    OPTIONAL MATCH (owner)-[:COVERS]->(covered:Component)
    WITH id, owner, collect(covered) AS covered
    UNWIND CASE WHEN size(covered) = 0 THEN [owner] ELSE covered END AS c
    MATCH (c)<-[:EXCUSES]-(e:ServiceException)
    WHERE e.status = 'APPROVED' AND e.start < $to AND ($from IS NULL OR e.end > $from)
    WITH DISTINCT id, e
    RETURN id, collect(e.start) AS starts, collect(e.end) AS ends
    """
)

# ---- adopting the settings' maintenance windows (start-up) -------------------------------

ADOPTED_KEYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (e:ServiceException {key: key})
    RETURN e.key AS key
    """
)

# A settings entry names components by hub id or by `source:externalId`.
RESOLVE_COMPONENT_REFS = Cypher(
    """
    UNWIND $refs AS ref
    OPTIONAL MATCH (byId:Component {id: ref})
    OPTIONAL MATCH (r:ExternalRef {key: ref})
    OPTIONAL MATCH (byRef:Component {id: r.targetId})
    RETURN ref, coalesce(byId.id, byRef.id) AS id
    """
)

# An entry that names no components excuses every component that is not deleted.
LIVE_COMPONENT_IDS = Cypher(
    """
    MATCH (c:Component)
    WHERE c.status IS NULL OR c.status <> 'DELETED'
    RETURN c.id AS id
    ORDER BY id
    """
)

# props: every property but id and key.
ADOPT_EXCEPTION = Cypher(
    """
    MERGE (e:ServiceException {key: $key})
    ON CREATE SET e.id = $id, e += $props
    RETURN e.id AS id
    """
)

# ---- schema -----------------------------------------------------------------------------

EXCEPTION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT service_exception_id IF NOT EXISTS "
    "FOR (n:ServiceException) REQUIRE n.id IS UNIQUE"
)
EXCEPTION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT service_exception_key IF NOT EXISTS "
    "FOR (n:ServiceException) REQUIRE n.key IS UNIQUE"
)
EXCEPTION_START_INDEX = Cypher(
    "CREATE INDEX service_exception_start IF NOT EXISTS FOR (n:ServiceException) ON (n.start)"
)
