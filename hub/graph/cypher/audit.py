"""The audit trail: append-only records in one hash chain, and its head.

The head (one `AuditHead` node) holds the last record's sequence and hash. A writing
transaction first sets a property on it, which takes the head's write lock on Neo4j
(ArcadeDB fails one of two concurrent updates with a transient error instead, and
the driver runs that transaction again); only then does it read the head, so no two
transactions can append after the same record.
"""

from hub.graph.cypher import Cypher, scope

# ---- appending ------------------------------------------------------------------------

LOCK_AUDIT_HEAD = Cypher(
    """
    MERGE (h:AuditHead {key: $key})
    ON CREATE SET h.sequence = 0, h.hash = $genesis
    SET h.lockedBy = $lockId
    """
)

READ_AUDIT_HEAD = Cypher(
    """
    MATCH (h:AuditHead {key: $key})
    RETURN h.sequence AS sequence, h.hash AS hash
    """
)

# Each record: id, sequence, at, actor, action, targetId, reason, before, after,
# previousHash, hash. The head must still be where this transaction read it.
APPEND_AUDIT_RECORDS = Cypher(
    """
    MATCH (h:AuditHead {key: $key})
    WHERE h.sequence = $previousSequence AND h.hash = $previousHash
    SET h.sequence = $sequence, h.hash = $hash
    WITH h
    UNWIND $records AS record
    CREATE (r:AuditRecord)
    SET r += record
    RETURN count(r) AS appended
    """
)

# ---- reading ------------------------------------------------------------------------

AUDIT_RECORDS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (r:AuditRecord {id: id})
    RETURN properties(r) AS props
    """
)

# Whether an audit record's target is a scoped record the token may read: an
# agreement, service, customer, objective, violation or exception (one that names a
# component the token may read: `hub.graph.cypher.exceptions`).
_TARGET_VISIBLE = (
    "(EXISTS { MATCH (ta:Agreement {id: r.targetId}) WHERE "
    + scope.agreement_visible("ta")
    + " } OR EXISTS { MATCH (ts:Service {id: r.targetId}) WHERE "
    + scope.service_visible("ts")
    + " } OR EXISTS { MATCH (tc:Customer {id: r.targetId}) WHERE "
    + scope.customer_visible("tc")
    + " } OR EXISTS { MATCH (tob:Objective {id: r.targetId}) WHERE "
    + scope.objective_visible("tob")
    + " } OR EXISTS { MATCH (:Violation {id: r.targetId})-[:OF_OBJECTIVE]->(tvo:Objective)"
    + " WHERE "
    + scope.objective_visible("tvo")
    + " } OR ($scopeCustomer IS NULL AND EXISTS { MATCH (:ServiceException {id: r.targetId})"
    + "-[:EXCUSES]->(tec:Component) WHERE "
    + scope.component_visible("tec")
    + " }))"
)

AUDIT_TRAIL = Cypher(
    """
    MATCH (r:AuditRecord)
    WHERE r.sequence > $after
      AND ($targetId IS NULL OR r.targetId = $targetId)
      AND ($action IS NULL OR r.action = $action)
    RETURN properties(r) AS props
    ORDER BY r.sequence
    LIMIT $limit
    """
)

AUDIT_TRAIL_IN_SCOPE = Cypher(
    """
    MATCH (r:AuditRecord)
    WHERE r.sequence > $after
      AND ($targetId IS NULL OR r.targetId = $targetId)
      AND ($action IS NULL OR r.action = $action)
      AND """
    + _TARGET_VISIBLE
    + """
    RETURN properties(r) AS props
    ORDER BY r.sequence
    LIMIT $limit
    """
)

AUDIT_RECORDS_BY_IDS_IN_SCOPE = Cypher(
    """
    UNWIND $ids AS id
    MATCH (r:AuditRecord {id: id})
    WHERE """
    + _TARGET_VISIBLE
    + """
    RETURN properties(r) AS props
    """
)

# ---- verifying ------------------------------------------------------------------------

# One page of the chain in order, from a sequence on. The id breaks ties, so that a
# duplicated sequence (possible only with the constraint dropped) is still seen.
AUDIT_CHAIN_PAGE = Cypher(
    """
    MATCH (r:AuditRecord)
    WHERE r.sequence >= $fromSequence
    RETURN properties(r) AS props
    ORDER BY r.sequence, r.id
    LIMIT $limit
    """
)

UNSEQUENCED_AUDIT_RECORD = Cypher(
    """
    MATCH (r:AuditRecord)
    WHERE r.sequence IS NULL
    RETURN r.id AS id
    ORDER BY id
    LIMIT 1
    """
)

# ---- chaining records written before the chain existed (a migration) -----------------

UNCHAINED_AUDIT_RECORDS = Cypher(
    """
    MATCH (r:AuditRecord)
    WHERE r.sequence IS NULL
    RETURN properties(r) AS props
    ORDER BY r.at, r.id
    """
)

# Each row: id, sequence, reason, before, after, previousHash, hash.
CHAIN_AUDIT_RECORDS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (r:AuditRecord {id: row.id})
    WHERE r.sequence IS NULL
    SET r.sequence = row.sequence, r.reason = row.reason, r.before = row.before,
        r.after = row.after, r.previousHash = row.previousHash, r.hash = row.hash
    """
)

ADVANCE_AUDIT_HEAD = Cypher(
    """
    MATCH (h:AuditHead {key: $key})
    WHERE h.sequence = $previousSequence
    SET h.sequence = $sequence, h.hash = $hash
    RETURN h.sequence AS sequence
    """
)

# ---- schema ---------------------------------------------------------------------------

AUDIT_SEQUENCE_UNIQUE = Cypher(
    "CREATE CONSTRAINT audit_record_sequence IF NOT EXISTS "
    "FOR (n:AuditRecord) REQUIRE n.sequence IS UNIQUE"
)
AUDIT_HEAD_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT audit_head_key IF NOT EXISTS FOR (n:AuditHead) REQUIRE n.key IS UNIQUE"
)
AUDIT_ACTION_INDEX = Cypher(
    "CREATE INDEX audit_record_action IF NOT EXISTS FOR (n:AuditRecord) ON (n.action)"
)
