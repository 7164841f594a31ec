"""API tokens, stored only as hashes, and the audit trail."""

from hub.graph.cypher import Cypher

CREATE_TOKEN = Cypher(
    """
    MERGE (t:ApiToken {hash: $hash})
    ON CREATE SET t.user = $user, t.role = $role, t.domains = $domains, t.createdAt = $now
    """
)

TOKEN_BY_HASH = Cypher(
    """
    MATCH (t:ApiToken {hash: $hash})
    WHERE t.revokedAt IS NULL
    RETURN t.user AS user, t.role AS role, t.domains AS domains
    """
)

WRITE_AUDIT_RECORD = Cypher(
    """
    MERGE (r:AuditRecord {id: $id})
    ON CREATE SET r.at = $at, r.actor = $actor, r.action = $action, r.targetId = $targetId,
                  r.targetKind = $targetKind, r.note = $note, r.details = $details
    """
)

AUDIT_RECORDS_FOR_TARGET = Cypher(
    """
    MATCH (r:AuditRecord {targetId: $targetId})
    RETURN properties(r) AS props
    ORDER BY r.at, r.id
    """
)
