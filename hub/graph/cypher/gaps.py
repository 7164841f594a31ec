"""What the coverage-gap rules need: the chain of each SLA in force and its cover.

The chains themselves come from the shared walk (`traversals.DOWN_LEVEL`), seeded with
the covered components of every SLA asked about at once: one statement per level for
all of them. A variable-length match per SLA enumerated every path of up to 25 hops,
which explodes on shared infrastructure (docs/benchmarks.md, "Coverage gaps").
"""

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force

# The SLAs in force at $now (all of them, or those of $slaIds) that the scope may read,
# each with the ACTIVE components it covers: the roots of its chain. An SLA covering no
# ACTIVE component has no chain, and so no gaps.
SLA_ROOTS = Cypher(
    """
    MATCH (sla:Agreement)
    WHERE sla.kind = 'SLA' AND """
    + in_force("sla")
    + """
      AND ($slaIds IS NULL OR sla.id IN $slaIds)
      AND $scopeCustomer IS NULL AND """
    + scope.agreement_visible("sla")
    + """
    MATCH (sla)-[:COVERS]->(root:Component)
    WHERE root.status = 'ACTIVE'
    RETURN sla.id AS slaId, collect(DISTINCT root.id) AS roots
    ORDER BY slaId
    """
)

# The chain components the walk reached, as ONE record: each with its name and the ids
# of the OLAs/UCs in force at $now that cover it (many components share a cover, whose
# objectives come once from COVER_OBJECTIVES).
CHAIN_MEMBERS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})
    OPTIONAL MATCH (cover:Agreement)-[:COVERS]->(c)
    WHERE cover.kind IN ['OLA', 'UC'] AND """
    + in_force("cover")
    + """
    WITH c, collect(DISTINCT cover.id) AS covers
    RETURN collect({id: c.id, name: c.name, covers: covers}) AS members
    """
)

# The name and every objective of each cover named.
COVER_OBJECTIVES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (cover:Agreement {id: id})
    OPTIONAL MATCH (cover)-[:HAS_OBJECTIVE]->(o:Objective)
    RETURN cover.id AS id, cover.name AS name, collect(properties(o)) AS objectives
    """
)
