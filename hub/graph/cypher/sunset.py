"""Sunset: retiring a service and ending the agreements that cover only retired
components (`hub.domain.sunset`, `hub.graph.repositories.sunset`)."""

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force

# The service a caller may sunset (scoped: one outside the token's scope is not found).
SERVICE_TO_SUNSET = Cypher(
    """
    MATCH (c:Service {id: $id})
    WHERE """
    + scope.service_visible("c")
    + """
    RETURN c.status AS status, c.sunsetPinned AS pinned
    """
)

# Marks the service SUNSET and pins it: a sync that says ACTIVE later leaves it SUNSET
# (UPSERT_SOURCE_COMPONENTS and UPDATE_COMPONENTS respect `sunsetPinned`).
PIN_SERVICE_SUNSET = Cypher(
    """
    MATCH (c:Service {id: $id})
    SET c.status = 'SUNSET', c.sunsetPinned = true, c.sunsetAt = $at, c.updatedAt = $now
    RETURN c.id AS id
    """
)

# The components of a source batch (by external ref key) that are retired now.
RETIRED_COMPONENTS_BY_REFS = Cypher(
    """
    UNWIND $refKeys AS refKey
    MATCH (:ExternalRef {key: refKey})-[:REFERS_TO]->(c:Component)
    WHERE c.status IN ['SUNSET', 'DELETED']
    RETURN collect(DISTINCT c.id) AS ids
    """
)

# The versions in force at $at that cover one of $ids and only retired components (a
# component without a status is ACTIVE), with their end so far.
AGREEMENTS_TO_SUNSET = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Component {id: id})<-[:COVERS]-(a:Agreement)
    WHERE """
    + in_force("a", "$at")
    + """
      AND NOT EXISTS {
        MATCH (a)-[:COVERS]->(other:Component)
        WHERE NOT coalesce(other.status, 'ACTIVE') IN ['SUNSET', 'DELETED']
      }
    WITH DISTINCT a
    RETURN a.id AS id, a.effectiveTo AS effectiveTo
    ORDER BY id
    """
)

# Ends each version at $at: SUNSET from then on (`hub.domain.validity`). Only a version
# still in force then changes, so running twice changes nothing more.
SUNSET_AGREEMENTS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (a:Agreement {id: id})
    WHERE """
    + in_force("a", "$at")
    + """
    SET a.sunsetAt = $at, a.effectiveTo = $at, a.updatedAt = $now
    RETURN collect(a.id) AS ids
    """
)

# The objectives of agreements sunset by $now: no longer measured, assessed or alerted on.
SUNSET_OBJECTIVE_IDS = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE a.sunsetAt IS NOT NULL AND a.sunsetAt <= $now
    RETURN collect(o.id) AS ids
    """
)
