"""What the coverage-gap rules need: the chain of each SLA in force and its cover."""

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force

# The chain of an SLA in force at $now: the ACTIVE components it covers and everything
# they depend on through ACTIVE components, each with the OLAs/UCs in force that cover
# it. The depth
# bound keeps path enumeration finite in dense graphs; chains deeper than 25 hops are
# not a shape estates have.
SLA_CHAIN_COVER = Cypher(
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
    MATCH p = (root)-[:DEPENDS_ON*0..25]->(c:Component)
    WHERE all(n IN nodes(p) WHERE n.status = 'ACTIVE')
    WITH DISTINCT sla, c
    OPTIONAL MATCH (cover:Agreement)-[:COVERS]->(c)
    WHERE cover.kind IN ['OLA', 'UC'] AND """
    + in_force("cover")
    + """
    WITH sla, c, cover
    OPTIONAL MATCH (cover)-[:HAS_OBJECTIVE]->(o:Objective)
    WITH sla, c, cover, collect(properties(o)) AS objectives
    RETURN sla.id AS slaId, c.id AS componentId, c.name AS componentName,
           collect(CASE WHEN cover IS NULL THEN null
                   ELSE {id: cover.id, name: cover.name, objectives: objectives} END) AS covers
    ORDER BY slaId, componentName, componentId
    """
)
