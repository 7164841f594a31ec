"""API tokens, stored only as hashes (the audit trail is in `audit`)."""

from hub.graph.cypher import Cypher

CREATE_TOKEN = Cypher(
    """
    MERGE (t:ApiToken {hash: $hash})
    ON CREATE SET t.id = $id, t.user = $user, t.role = $role, t.domains = $domains,
                  t.regions = $regions, t.groups = $groups, t.customerId = $customerId,
                  t.objectives = $objectives, t.createdAt = $now, t.expiresAt = $expiresAt
    """
)

# Whether what a token would be bound to exists.
TOKEN_REFERENCES = Cypher(
    """
    OPTIONAL MATCH (c:Customer {id: $customerId})
    WITH c
    OPTIONAL MATCH (o:Objective)
    WHERE o.id IN $objectiveIds
    RETURN c.id AS customerId, collect(o.id) AS objectiveIds
    """
)

# Times are fixed-width UTC strings, so comparing them as strings compares the times.
TOKEN_BY_HASH = Cypher(
    """
    MATCH (t:ApiToken {hash: $hash})
    WHERE t.revokedAt IS NULL AND (t.expiresAt IS NULL OR t.expiresAt > $now)
    RETURN t.id AS id, t.user AS user, t.role AS role, t.domains AS domains,
           t.regions AS regions, t.groups AS groups, t.customerId AS customerId,
           t.objectives AS objectives
    """
)

# Never the hash: a listing is for people, who need the id to revoke.
LIST_TOKENS = Cypher(
    """
    MATCH (t:ApiToken)
    RETURN t.id AS id, t.user AS user, t.role AS role, t.domains AS domains,
           t.regions AS regions, t.groups AS groups, t.customerId AS customerId,
           t.objectives AS objectives, t.createdAt AS createdAt, t.expiresAt AS expiresAt,
           t.revokedAt AS revokedAt
    ORDER BY createdAt, id
    """
)

# Idempotent: a token revoked before keeps its first revocation time.
REVOKE_TOKEN = Cypher(
    """
    MATCH (t:ApiToken {id: $id})
    WITH t, t.revokedAt AS previously
    SET t.revokedAt = coalesce(previously, $now)
    RETURN t.user AS user, t.role AS role, previously, t.revokedAt AS revokedAt
    """
)

# ---- migration: ids for tokens issued before tokens had them ---------------------------

TOKENS_WITHOUT_ID = Cypher(
    """
    MATCH (t:ApiToken)
    WHERE t.id IS NULL
    RETURN t.hash AS hash
    """
)

# Each row: hash, id.
ASSIGN_TOKEN_IDS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (t:ApiToken {hash: row.hash})
    WHERE t.id IS NULL
    SET t.id = row.id
    """
)

API_TOKEN_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT api_token_id IF NOT EXISTS FOR (n:ApiToken) REQUIRE n.id IS UNIQUE"
)
