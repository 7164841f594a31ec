"""Root cause's walk down an SLA's chain: one breadth-first level per statement, seeded
with every component the SLA covers at once (`hub.engine.root_cause`)."""

from hub.graph.cypher import Cypher

# One level: the dependency edges out of the frontier between ACTIVE components. A
# covered component that is not ACTIVE is a candidate itself but leads nowhere, as in a
# dependency chain.
CHAIN_LEVEL = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})-[:DEPENDS_ON]->(b:Component)
    WHERE a.status = 'ACTIVE' AND b.status = 'ACTIVE'
    RETURN a.id AS source, b.id AS target
    """
)
