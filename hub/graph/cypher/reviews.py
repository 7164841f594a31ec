"""Recorded reviews of agreement versions.

A review is a node of its own, `(:Review)-[:REVIEWS]->(:Agreement)`, never a change of
the version it reviews: a version's terms are written once. The reads of agreements
(`hub.graph.cypher.agreements`) return the times of a version's reviews, and its next
review counts from the latest (`hub.domain.reviews.next_review_at`).
"""

from hub.graph.cypher import Cypher, scope

# MERGE on a pre-generated id: the managed transaction may run twice. The scope
# predicate repeats the checkpoint the repository's read passed: a token never writes
# a review of a version it cannot read.
RECORD_REVIEW = Cypher(
    """
    MATCH (a:Agreement {id: $agreementId})
    WHERE """
    + scope.agreement_visible("a")
    + """
    MERGE (r:Review {id: $id})
    ON CREATE SET r.agreementId = a.id, r.lineage = a.lineage, r.reviewedAt = $reviewedAt,
                  r.by = $by, r.note = $note
    MERGE (r)-[:REVIEWS]->(a)
    RETURN r.id AS id
    """
)

REVIEW_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT review_id IF NOT EXISTS FOR (n:Review) REQUIRE n.id IS UNIQUE"
)
