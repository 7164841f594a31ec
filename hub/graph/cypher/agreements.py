"""Agreements, their objectives, what they cover and who they are with."""

from hub.graph.cypher import Cypher, scope

# MERGE on a pre-generated id: the managed transaction may run twice.
CREATE_AGREEMENT = Cypher(
    """
    MERGE (a:Agreement {id: $id})
    ON CREATE SET a.kind = $kind, a.name = $name, a.version = 1, a.status = 'DRAFT',
                  a.effectiveFrom = $effectiveFrom, a.effectiveTo = $effectiveTo,
                  a.createdAt = $now, a.createdBy = $actor, a.approvals = [],
                  a.creditPolicy = $creditPolicy
    WITH a
    UNWIND $objectives AS o
    MERGE (obj:Objective {id: o.id})
    ON CREATE SET obj += o
    MERGE (a)-[:HAS_OBJECTIVE]->(obj)
    WITH DISTINCT a
    UNWIND $covers AS componentId
    MATCH (c:Component {id: componentId})
    MERGE (a)-[:COVERS]->(c)
    RETURN count(c) AS covered
    """
)

LINK_CUSTOMER = Cypher(
    """
    MATCH (a:Agreement {id: $id}), (p:Customer {id: $counterpartId})
    MERGE (a)-[:FOR_CUSTOMER]->(p)
    """
)

LINK_PROVIDER_TEAM = Cypher(
    """
    MATCH (a:Agreement {id: $id}), (p:Team {id: $counterpartId})
    MERGE (a)-[:PROVIDED_BY]->(p)
    """
)

LINK_VENDOR = Cypher(
    """
    MATCH (a:Agreement {id: $id}), (p:Vendor {id: $counterpartId})
    MERGE (a)-[:WITH_VENDOR]->(p)
    """
)

LINK_UNDERPINS = Cypher(
    """
    MATCH (a:Agreement {id: $id})
    UNWIND $slaIds AS slaId
    MATCH (sla:Agreement {id: slaId})
    MERGE (a)-[:UNDERPINS]->(sla)
    """
)

# What a new agreement refers to, to report each missing reference by field.
EXISTING_REFERENCES = Cypher(
    """
    OPTIONAL MATCH (customer:Customer {id: $customerId})
    WHERE """
    + scope.customer_visible("customer")
    + """
    OPTIONAL MATCH (team:Team {id: $teamId})
    OPTIONAL MATCH (vendor:Vendor {id: $vendorId})
    WITH customer, team, vendor
    OPTIONAL MATCH (c:Component) WHERE c.id IN $covers AND """
    + scope.component_visible("c")
    + """
    WITH customer, team, vendor, collect(c.id) AS components
    OPTIONAL MATCH (sla:Agreement)
    WHERE sla.id IN $underpins AND sla.kind = 'SLA' AND """
    + scope.agreement_visible("sla")
    + """
    RETURN customer.id AS customerId, team.id AS teamId, vendor.id AS vendorId, components,
           collect(sla.id) AS slas
    """
)

AGREEMENTS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (a:Agreement {id: id})
    WHERE """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    RETURN properties(a) AS props, p.id AS counterpartId
    """
)

OBJECTIVES_BY_AGREEMENT_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})-[:HAS_OBJECTIVE]->(o:Objective)
    RETURN id AS agreementId, properties(o) AS props
    ORDER BY o.id
    """
)

COVERED_IDS_BY_AGREEMENT_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})-[:COVERS]->(c:Component)
    RETURN id AS agreementId, c.id AS componentId
    ORDER BY c.name, c.id
    """
)

UNDERPINNING_IDS_BY_SLA_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})<-[:UNDERPINS]-(a:Agreement)
    RETURN id AS slaId, a.id AS agreementId
    ORDER BY a.id
    """
)

SLA_IDS_BY_SERVICE_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Component {id: id})<-[:COVERS]-(a:Agreement)
    WHERE a.kind = 'SLA'
    RETURN id AS serviceId, a.id AS agreementId, a.status AS status
    ORDER BY a.id
    """
)

LIST_AGREEMENTS = Cypher(
    """
    MATCH (a:Agreement)
    WHERE ($after IS NULL OR a.id > $after)
      AND ($kinds IS NULL OR a.kind IN $kinds)
      AND ($statuses IS NULL OR a.status IN $statuses)
      AND ($customerId IS NULL
           OR EXISTS { MATCH (a)-[:FOR_CUSTOMER]->(:Customer {id: $customerId}) })
      AND ($serviceId IS NULL
           OR EXISTS { MATCH (a)-[:COVERS]->(:Component {id: $serviceId}) })
      AND """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    RETURN properties(a) AS props, p.id AS counterpartId
    ORDER BY a.id
    LIMIT $limit
    """
)

# Optimistic: the change applies only if nobody moved the agreement meanwhile.
TRANSITION_AGREEMENT = Cypher(
    """
    MATCH (a:Agreement {id: $id})
    WHERE a.status = $expectedStatus AND a.approvals = $expectedApprovals
      AND """
    + scope.agreement_visible("a")
    + """
    SET a.status = $status, a.submittedBy = coalesce($submittedBy, a.submittedBy),
        a.approvals = $approvals, a.updatedAt = $now
    RETURN a.id AS id
    """
)
