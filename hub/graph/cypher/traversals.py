"""Dependency walks. One statement per breadth-first level: on shared infrastructure
(a router most of the estate depends on) a level-by-level walk grows with nodes and
edges, while one variable-length match grows with the number of paths, which explodes
in diamond-rich graphs (measured in ``docs/benchmarks.md``)."""

from hub.graph.cypher import Cypher
from hub.graph.cypher.validity import in_force

COMPONENT_STATUS = Cypher("MATCH (c:Component {id: $id}) RETURN c.status AS status")

# One level of a walk: `next` is the neighbour reached; edges point from the consumer
# to what it needs (source depends on target).
DEPENDENCIES_OF = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})-[:DEPENDS_ON]->(b:Component)
    WHERE b.status = 'ACTIVE'
    RETURN b.id AS next, a.id AS source, b.id AS target
    """
)

DEPENDANTS_OF = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})<-[:DEPENDS_ON]-(b:Component)
    WHERE b.status = 'ACTIVE'
    RETURN b.id AS next, b.id AS source, a.id AS target
    """
)

# The same level without edges: one row per component, for walks that need no edges
# (impact). On shared infrastructure that is several times fewer rows.
DEPENDANT_IDS_OF = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (:Component {id: id})<-[:DEPENDS_ON]-(b:Component)
    WHERE b.status = 'ACTIVE'
    RETURN DISTINCT b.id AS next
    """
)

# The components are matched first, through their id index: ArcadeDB plans the pattern
# from the agreement end otherwise (6-7 s instead of 0.15 s for the 9,800 components a
# core router's impact reaches; docs/benchmarks.md, "Access scope"). Only the versions
# in force at $now are exposed.
ACTIVE_AGREEMENTS_COVERING = Cypher(
    """
    MATCH (c:Component)
    WHERE c.id IN $ids
    MATCH (a:Agreement)-[:COVERS]->(c)
    WHERE """
    + in_force("a")
    + """
    WITH DISTINCT a
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER]->(customer:Customer)
    RETURN a.id AS id, a.kind AS kind, a.name AS name, customer.id AS customerId,
           customer.name AS customerName
    ORDER BY kind, name, id
    """
)
