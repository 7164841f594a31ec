"""Teams, vendors and customers: who agreements are between."""

from hub.graph.cypher import Cypher, scope

# Each row: refKey, source, externalId, newId, props.
UPSERT_TEAMS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row.refKey})
    ON CREATE SET ref.source = row.source, ref.externalId = row.externalId,
                  ref.targetId = row.newId
    WITH ref, row
    MERGE (n:Team {id: ref.targetId})
    ON CREATE SET n.createdAt = $now
    SET n += row.props, n.updatedAt = $now
    MERGE (ref)-[:REFERS_TO]->(n)
    RETURN count(n) AS written
    """
)

UPSERT_VENDORS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row.refKey})
    ON CREATE SET ref.source = row.source, ref.externalId = row.externalId,
                  ref.targetId = row.newId
    WITH ref, row
    MERGE (n:Vendor {id: ref.targetId})
    ON CREATE SET n.createdAt = $now
    SET n += row.props, n.updatedAt = $now
    MERGE (ref)-[:REFERS_TO]->(n)
    RETURN count(n) AS written
    """
)

UPSERT_CUSTOMERS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row.refKey})
    ON CREATE SET ref.source = row.source, ref.externalId = row.externalId,
                  ref.targetId = row.newId
    WITH ref, row
    MERGE (n:Customer {id: ref.targetId})
    ON CREATE SET n.createdAt = $now
    SET n += row.props, n.updatedAt = $now
    MERGE (ref)-[:REFERS_TO]->(n)
    RETURN count(n) AS written
    """
)

TEAMS_BY_IDS = Cypher(
    "UNWIND $ids AS id MATCH (n:Team {id: id}) WHERE "
    + scope.internal_visible()
    + " RETURN n.id AS id, n.name AS name"
)

VENDORS_BY_IDS = Cypher(
    "UNWIND $ids AS id MATCH (n:Vendor {id: id}) WHERE "
    + scope.internal_visible()
    + " RETURN n.id AS id, n.name AS name"
)

CUSTOMERS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (n:Customer {id: id})
    WHERE """
    + scope.customer_visible("n")
    + """
    RETURN properties(n) AS props
    """
)

LIST_CUSTOMERS = Cypher(
    """
    MATCH (n:Customer)
    WHERE ($after IS NULL OR n.id > $after)
      AND ($businessUnit IS NULL OR n.businessUnit = $businessUnit)
      AND ($region IS NULL OR n.region = $region)
      AND ($external IS NULL OR n.external = $external)
      AND """
    + scope.customer_visible("n")
    + """
    RETURN properties(n) AS props
    ORDER BY n.id
    LIMIT $limit
    """
)
