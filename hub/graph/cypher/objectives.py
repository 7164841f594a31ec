"""Service-level objectives: (:Service)-[:HAS_OBJECTIVE]->(:Objective), e.g. from OpenSLO."""

from hub.graph.cypher import Cypher, scope

# Migration 5: `spec.service` may name a service by a bare externalId of any source.
EXTERNAL_REF_EXTERNAL_ID_INDEX = Cypher(
    "CREATE INDEX external_ref_external_id IF NOT EXISTS FOR (n:ExternalRef) ON (n.externalId)"
)

# What each reference may mean, in the order the import tries them: an external
# reference key (source:externalId), an externalId of any source, a service name.
RESOLVE_SERVICE_REFERENCES = Cypher(
    """
    UNWIND $refs AS ref
    OPTIONAL MATCH (:ExternalRef {key: ref})-[:REFERS_TO]->(byKey:Service)
    WITH ref, collect(DISTINCT byKey.id) AS byKey
    OPTIONAL MATCH (:ExternalRef {externalId: ref})-[:REFERS_TO]->(byExternalId:Service)
    WITH ref, byKey, collect(DISTINCT byExternalId.id) AS byExternalId
    OPTIONAL MATCH (byName:Component {name: ref})
    WHERE 'Service' IN labels(byName)
    RETURN ref, byKey, byExternalId, collect(DISTINCT byName.id) AS byName
    """
)

OBJECTIVES_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    RETURN properties(o) AS props
    """
)

# Objectives of the imported SLOs that the new import no longer names (an SLO that
# went from one objective to several, or back): they go, so that the SLO is as written.
STALE_SLO_OBJECTIVES = Cypher(
    """
    UNWIND $slos AS slo
    MATCH (:Component {id: slo.serviceId})-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE o.sloName = slo.sloName AND NOT o.id IN slo.keep
    RETURN slo.serviceId AS serviceId, o.id AS id, o.name AS name
    """
)

# Each row: serviceId, id and props (every property, null for those to remove).
UPSERT_SERVICE_OBJECTIVES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (s:Component {id: row.serviceId})
    MERGE (o:Objective {id: row.id})
    ON CREATE SET o.createdAt = $now
    SET o += row.props, o.updatedAt = $now
    MERGE (s)-[:HAS_OBJECTIVE]->(o)
    RETURN count(o) AS written
    """
)

DELETE_OBJECTIVES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    DETACH DELETE o
    """
)

OBJECTIVES_BY_SERVICE_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Component {id: id})-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE """
    + scope.internal_visible()
    + """
    RETURN id AS serviceId, properties(o) AS props
    ORDER BY o.name, o.id
    """
)

SERVICE_OBJECTIVES = Cypher(
    """
    MATCH (s:Service)-[:HAS_OBJECTIVE]->(o:Objective)
    OPTIONAL MATCH (s)-[:OWNED_BY]->(t:Team)
    RETURN properties(s) AS service, labels(s) AS labels, t.id AS ownerId,
           properties(o) AS props
    ORDER BY s.id, o.name, o.id
    """
)

# Service and agreement objectives alike; `labels` tells which the owner is.
MEASURED_OBJECTIVES = Cypher(
    """
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE o.metric IS NOT NULL
    RETURN properties(o) AS props, owner.id AS ownerId, labels(owner) AS ownerLabels
    ORDER BY o.id
    """
)

# A reference is an objective's id or its name (names are unique per owner only).
OBJECTIVES_BY_IDS_OR_NAMES = Cypher(
    """
    UNWIND $refs AS ref
    MATCH (owner)-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE o.id = ref OR o.name = ref
    RETURN ref, properties(o) AS props, owner.id AS ownerId, labels(owner) AS ownerLabels
    ORDER BY o.id
    """
)
