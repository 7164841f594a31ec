"""What targets suggested from history read: a service's objectives of one indicator
(its own and its SLAs'), its tier and its incidents. Buckets are read as for status
(`hub.graph.cypher.telemetry`)."""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope

# A service's own objectives are internal (a customer token reads only its SLAs'
# objectives); an SLA's objectives are readable with the SLA. Incidents come as
# {openedAt, endedAt} (endedAt null while open) overlapping [$from, $to).
SERVICE_HISTORY = Cypher(
    """
    MATCH (s:Service {id: $serviceId})
    WHERE """
    + scope.service_visible("s")
    + """
    OPTIONAL MATCH (s)-[:HAS_OBJECTIVE]->(own:Objective)
    WHERE own.indicator = $indicator AND """
    + scope.internal_visible()
    + """
    WITH s, collect(properties(own)) AS own
    OPTIONAL MATCH (s)<-[:COVERS]-(a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE a.kind = 'SLA' AND o.indicator = $indicator AND """
    + scope.agreement_visible("a")
    + """
    WITH s, own,
         collect(CASE WHEN o IS NULL THEN null
                 ELSE {agreementId: a.id, props: properties(o)} END) AS agreed
    OPTIONAL MATCH (s)<-[:AFFECTS]-(i:Incident)
    WHERE i.openedAt < $to AND coalesce(i.resolvedAt, i.closedAt, $to) >= $from
    RETURN s.tier AS tier, own, agreed,
           collect(CASE WHEN i IS NULL THEN null
                   ELSE {openedAt: i.openedAt, endedAt: coalesce(i.resolvedAt, i.closedAt)}
                   END) AS incidents
    """
)
