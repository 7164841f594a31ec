"""What sync jobs keep in the graph: relations from sources, deletions, watermarks,
runs, quarantined records and leases."""

from hub.graph.cypher import Cypher

# Each row: parentKey, childKey (external ref keys), source, externalId (the relation's
# own key at the source), typeName. Dependencies point from parent to child. Each
# relation written comes back: one that does not has an end the graph lacks.
UPSERT_SOURCE_DEPENDENCIES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row.parentKey})-[:REFERS_TO]->(a:Component)
    MATCH (:ExternalRef {key: row.childKey})-[:REFERS_TO]->(b:Component)
    MERGE (a)-[r:DEPENDS_ON]->(b)
    SET r += {source: row.source, externalId: row.externalId, type: row.typeName}
    RETURN row.externalId AS externalId
    """
)

# Relations that are not dependencies are kept as they are, apart from the walks.
UPSERT_SOURCE_RELATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row.parentKey})-[:REFERS_TO]->(a:Component)
    MATCH (:ExternalRef {key: row.childKey})-[:REFERS_TO]->(b:Component)
    MERGE (a)-[r:RELATES_TO {type: row.typeName}]->(b)
    SET r += {source: row.source, externalId: row.externalId}
    RETURN row.externalId AS externalId
    """
)

# Each row: key (source:externalId), props, componentRefs (external-ref keys). The
# links are replaced: a ticket moved to another CI at its source moves here too.
UPSERT_INCIDENTS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (i:Incident {key: row.key})
    ON CREATE SET i.createdAt = $now
    SET i += row.props, i.updatedAt = $now
    WITH i, row
    OPTIONAL MATCH (i)-[old:AFFECTS]->(:Component)
    DELETE old
    WITH DISTINCT i, row
    UNWIND row.componentRefs AS refKey
    MATCH (:ExternalRef {key: refKey})-[:REFERS_TO]->(c:Component)
    MERGE (i)-[:AFFECTS]->(c)
    """
)

# The components a source still names and that are not DELETED yet.
LIVE_COMPONENT_REFS = Cypher(
    """
    MATCH (ref:ExternalRef {source: $source})-[:REFERS_TO]->(c:Component)
    WHERE c.status <> 'DELETED'
    RETURN ref.externalId AS externalId, c.id AS id
    """
)

# Soft delete: the node and its history stay; a later sync revives it. A component
# that another source still describes is not deleted.
MARK_COMPONENTS_DELETED = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})
    WHERE NOT EXISTS {
      MATCH (other:ExternalRef)-[:REFERS_TO]->(c) WHERE other.source <> $source
    }
    SET c.status = 'DELETED', c.deletedAt = $now, c.updatedAt = $now
    RETURN count(c) AS deleted
    """
)

SYNC_STATE = Cypher(
    """
    MATCH (s:SyncState {connector: $connector})
    RETURN s.watermarks AS watermarks
    """
)

SAVE_WATERMARKS = Cypher(
    """
    MERGE (s:SyncState {connector: $connector})
    SET s.watermarks = $watermarks, s.updatedAt = $now
    """
)

# Each row: key (connector, record type and id or payload digest), props.
QUARANTINE_RECORDS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (q:QuarantinedRecord {key: row.key})
    ON CREATE SET q.firstSeenAt = $now
    SET q += row.props, q.lastSeenAt = $now
    """
)

# A record accepted later leaves the quarantine.
RELEASE_QUARANTINED = Cypher(
    """
    UNWIND $keys AS key
    MATCH (q:QuarantinedRecord {key: key})
    DELETE q
    """
)

QUARANTINED_RECORDS = Cypher(
    """
    MATCH (q:QuarantinedRecord)
    WHERE ($connector IS NULL OR q.connector = $connector)
      AND ($after IS NULL OR q.key > $after)
    RETURN properties(q) AS props
    ORDER BY q.key
    LIMIT $limit
    """
)

SAVE_SYNC_RUN = Cypher(
    """
    MERGE (r:SyncRun {id: $id})
    SET r += $props
    """
)

SYNC_RUNS = Cypher(
    """
    MATCH (r:SyncRun)
    WHERE ($connector IS NULL OR r.connector = $connector)
      AND ($before IS NULL OR r.id < $before)
    RETURN properties(r) AS props
    ORDER BY r.id DESC
    LIMIT $limit
    """
)

# Take the lease if it is free, expired or already ours; return who holds it now.
ACQUIRE_LEASE = Cypher(
    """
    MERGE (l:SyncLease {connector: $connector})
    ON CREATE SET l.holder = $holder, l.expiresAt = $expiresAt
    WITH l, (l.holder = $holder OR l.expiresAt < $now) AS free
    SET l.holder = CASE WHEN free THEN $holder ELSE l.holder END,
        l.expiresAt = CASE WHEN free THEN $expiresAt ELSE l.expiresAt END
    RETURN l.holder AS holder, l.expiresAt AS expiresAt
    """
)

# Take over a lease whose holder is known to be dead (a process of this host that is
# gone), without waiting for it to expire.
TAKE_OVER_LEASE = Cypher(
    """
    MATCH (l:SyncLease {connector: $connector})
    WHERE l.holder = $dead
    SET l.holder = $holder, l.expiresAt = $expiresAt
    RETURN l.holder AS holder
    """
)

RELEASE_LEASE = Cypher(
    """
    MATCH (l:SyncLease {connector: $connector})
    WHERE l.holder = $holder
    SET l.expiresAt = $now
    """
)

# Incidents by key with the ids of the components they affect (an empty list if none).
INCIDENTS_BY_KEYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (i:Incident {key: key})
    OPTIONAL MATCH (i)-[:AFFECTS]->(c:Component)
    RETURN i.key AS key, properties(i) AS props, collect(c.id) AS componentIds
    """
)
