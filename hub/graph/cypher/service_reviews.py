"""Joint service reviews: `(a:Agreement)-[:HAS_SERVICE_REVIEW]->(sr:ServiceReview)`,
with the actions agreed (`hub.graph.cypher.actions`). Readable with their agreement;
internal, so never for customer tokens."""

from hub.graph.cypher import Cypher, scope

SERVICE_REVIEW_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT service_review_id IF NOT EXISTS FOR (n:ServiceReview) REQUIRE n.id IS UNIQUE"
)

# The agreement a review is recorded on, where the token may change it.
REVIEWABLE_AGREEMENT = Cypher(
    """
    MATCH (a:Agreement {id: $agreementId})
    WHERE $scopeCustomer IS NULL AND """
    + scope.agreement_visible("a")
    + """
    RETURN a.id AS id
    """
)

# Pre-generated id: a retried transaction MERGEs the same review.
RECORD_SERVICE_REVIEW = Cypher(
    """
    MATCH (a:Agreement {id: $agreementId})
    MERGE (sr:ServiceReview {id: $id})
    ON CREATE SET sr += $props
    MERGE (a)-[:HAS_SERVICE_REVIEW]->(sr)
    RETURN sr.id AS id
    """
)

# Reviews of every version of the asked agreement's lineage (or of all agreements
# the token reads), latest first.
SERVICE_REVIEWS = Cypher(
    """
    OPTIONAL MATCH (asked:Agreement {id: $agreementId})
    WITH coalesce(asked.lineage, asked.id) AS lineage
    MATCH (a:Agreement)-[:HAS_SERVICE_REVIEW]->(sr:ServiceReview)
    WHERE ($agreementId IS NULL OR coalesce(a.lineage, a.id) = lineage)
      AND $scopeCustomer IS NULL AND """
    + scope.agreement_visible("a")
    + """
    RETURN properties(sr) AS review
    ORDER BY sr.heldAt DESC, sr.id
    LIMIT $limit
    """
)

SERVICE_REVIEWS_BY_IDS = Cypher(
    """
    UNWIND $ids AS reviewId
    MATCH (a:Agreement)-[:HAS_SERVICE_REVIEW]->(sr:ServiceReview {id: reviewId})
    WHERE $scopeCustomer IS NULL AND """
    + scope.agreement_visible("a")
    + """
    RETURN properties(sr) AS review
    """
)
