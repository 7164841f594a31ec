"""Dependency walks. One statement per breadth-first level: on shared infrastructure
(a router most of the estate depends on) a level-by-level walk grows with nodes and
edges, while one variable-length match grows with the number of paths, which explodes
in diamond-rich graphs (measured in ``docs/benchmarks.md``)."""

from hub.graph.cypher import Cypher, scope
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

# One level of the shared walk down dependencies (`walk_down`: root cause, coverage
# gaps), seeded with many roots at once, as ONE record: each ACTIVE frontier component
# that needs something, with the ids of the ACTIVE components it needs. A root that is
# not ACTIVE leads nowhere, as in a dependency chain.
DOWN_LEVEL = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})-[:DEPENDS_ON]->(b:Component)
    WHERE a.status = 'ACTIVE' AND b.status = 'ACTIVE'
    WITH a, collect(b.id) AS next
    RETURN collect({id: a.id, next: next}) AS level
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

# The components are matched first, one index lookup per id. Matched from the agreement
# end, ArcadeDB once took 6-7 s for the 9,800 components a core router's impact reaches
# (docs/benchmarks.md, "Access scope"); `MATCH (c:Component) WHERE c.id IN $ids` compares
# every component with every id (1.9 s against 0.09 s for those ids, "Traversals over
# HTTP"). Only the versions in force at $now are exposed.
ACTIVE_AGREEMENTS_COVERING = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})<-[:COVERS]-(a:Agreement)
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

# The fields of a component that `component_from_row` reads: only these cross the wire.
_FIELDS = (
    "{id: a.id, name: a.name, status: a.status, tier: a.tier, businessUnit: a.businessUnit,"
    " region: a.region, ciClass: a.ciClass, environment: a.environment, location: a.location}"
)

# One level of a walk for a GraphQL answer, as ONE record: each component of the
# frontier once, with its fields when the token may read it (`props` is null otherwise:
# the walk still goes through it, so depths stay true) and the ids of its ACTIVE
# neighbours. Every component a walk reaches is in one frontier, so its fields cross the
# wire once and the answer needs no second lookup. One record per level, not one per
# row: the async driver's cost per record received dominates such walks (the core
# router's 15,088 rows of ids took 300-380 ms as rows, 115-150 ms as one list per
# level; docs/benchmarks.md, "Traversals over HTTP").
DEPENDENCIES_LEVEL = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})
    OPTIONAL MATCH (a)-[:DEPENDS_ON]->(b:Component)
    WHERE b.status = 'ACTIVE'
    WITH a, collect(b.id) AS next
    OPTIONAL MATCH (a)-[:OWNED_BY]->(t:Team)
    RETURN collect({id: a.id, next: next, labels: labels(a), ownerId: t.id,
                    props: CASE WHEN """
    + scope.component_visible("a")
    + " THEN "
    + _FIELDS
    + """ END}) AS level
    """
)

DEPENDANTS_LEVEL = Cypher(
    """
    UNWIND $frontier AS id
    MATCH (a:Component {id: id})
    OPTIONAL MATCH (a)<-[:DEPENDS_ON]-(b:Component)
    WHERE b.status = 'ACTIVE'
    WITH a, collect(b.id) AS next
    OPTIONAL MATCH (a)-[:OWNED_BY]->(t:Team)
    RETURN collect({id: a.id, next: next, labels: labels(a), ownerId: t.id,
                    props: CASE WHEN """
    + scope.component_visible("a")
    + " THEN "
    + _FIELDS
    + """ END}) AS level
    """
)
