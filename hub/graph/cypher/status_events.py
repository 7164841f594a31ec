"""What an `objectiveStatusChanged` subscriber may know of the objectives a sync or an
assessment touched: each objective it may read (`scope.objective_visible`), the
agreement holding it and the services it answers for (the service holding it, or the
services its agreement covers) where it may read them, and their business units (an
SLA's is its customer's), for the subscription's `serviceId` and `businessUnit`
filters."""

from hub.graph.cypher import Cypher, scope

STATUS_EVENT_TARGETS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    WHERE """
    + scope.objective_visible("o")
    + """
    OPTIONAL MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o)
    WHERE """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER]->(c:Customer)
    OPTIONAL MATCH (a)-[:COVERS]->(cs:Service)
    WHERE """
    + scope.service_visible("cs")
    + """
    WITH o, a, c, collect(DISTINCT cs) AS covered
    OPTIONAL MATCH (hs:Service)-[:HAS_OBJECTIVE]->(o)
    WHERE """
    + scope.service_visible("hs")
    + """
    WITH o, a, c, covered, collect(DISTINCT hs) AS holders
    RETURN o {.*} AS objective, a.id AS agreementId, c.businessUnit AS customerUnit,
           [s IN holders | s.id] AS holderIds, [s IN holders | s.businessUnit] AS holderUnits,
           [s IN covered | s.id] AS coveredIds, [s IN covered | s.businessUnit] AS coveredUnits
    """
)
