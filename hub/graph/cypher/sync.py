"""What sync jobs keep in the graph: relations from sources, deletions, watermarks,
runs, quarantined records and leases."""

from hub.graph.cypher import Cypher

# The statements a sync sends for every record take rows as lists, not maps: the driver
# packs parameters in Python, and map keys cost it more than the graph spends on some
# rows. Each statement says what a row holds.

# The components of one batch of one source ($source, whose precedence is $rank),
# created or updated in one statement. Each row: [refKey, externalId, newId (the node a
# new ref names: its own, or the component that identification found), service (true
# for a service, false for a CI), props].
#
# A new ref is created with its target; the target is looked up on `Component` alone
# (a two-label MERGE is not index-backed on ArcadeDB, see components.py) and created with
# both labels, its properties and the REFERS_TO link when it is missing. An existing
# target takes the properties only if this source's rank leads (lower wins): a weaker
# source links its ref and changes nothing a stronger one says. FOREACH over a list of
# zero or one element is Cypher's conditional write. A service sunset through the API
# (`sunsetPinned`, hub.graph.cypher.sunset) stays SUNSET whatever the source says.
#
# Rows must have distinct refKeys: each row's OPTIONAL MATCH sees the graph as it was
# before the statement's writes (Neo4j applies clause by clause and ArcadeDB batches
# likewise), so a key twice would create its node twice. Two imports creating one node
# at once: the loser fails on the constraint and the retried transaction finds the node.
UPSERT_SOURCE_COMPONENTS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row[0]})
    ON CREATE SET ref.source = $source, ref.externalId = row[1], ref.targetId = row[2]
    WITH row, ref
    OPTIONAL MATCH (found:Component {id: ref.targetId})
    WITH row, ref, found, $rank <= coalesce(found.sourceRank, $rank) AS leads
    FOREACH (_ IN CASE WHEN found IS NULL AND row[3] THEN [1] ELSE [] END |
      CREATE (c:Component:Service {id: ref.targetId, createdAt: $now})
      SET c += row[4], c.sourceRank = $rank, c.updatedAt = $now
      CREATE (ref)-[:REFERS_TO]->(c)
    )
    FOREACH (_ IN CASE WHEN found IS NULL AND NOT row[3] THEN [1] ELSE [] END |
      CREATE (c:Component:ConfigurationItem {id: ref.targetId, createdAt: $now})
      SET c += row[4], c.sourceRank = $rank, c.updatedAt = $now
      CREATE (ref)-[:REFERS_TO]->(c)
    )
    FOREACH (c IN CASE WHEN found IS NULL THEN [] ELSE [found] END |
      SET c += CASE WHEN leads THEN row[4] ELSE {} END,
          c.sourceRank = CASE WHEN leads THEN $rank ELSE c.sourceRank END,
          c.updatedAt = $now
      SET c.status = CASE WHEN c.sunsetPinned = true THEN 'SUNSET' ELSE c.status END
      MERGE (ref)-[:REFERS_TO]->(c)
    )
    RETURN sum(CASE WHEN found IS NULL THEN 1 ELSE 0 END) AS created
    """
)

# Identification: for each record of $source new to the graph (rows: [refKey,
# serialNumber, fqdn], null for a value the record lacks or the rules leave out), the
# component of another source that has the same serial number, and the one that has
# the same FQDN, among those $source does not describe yet (the lowest id if several).
# The caller takes the first match in the order of its rules. Both look-ups in one
# statement: a round trip fewer per batch, and the ref is looked up once.
IDENTIFY_COMPONENTS = Cypher(
    """
    UNWIND $rows AS row
    WITH row
    WHERE NOT EXISTS { MATCH (:ExternalRef {key: row[0]}) }
    CALL {
      WITH row
      WITH row WHERE row[1] IS NOT NULL
      MATCH (c:Component {serialNumber: row[1]})
      WHERE NOT EXISTS { MATCH (own:ExternalRef)-[:REFERS_TO]->(c) WHERE own.source = $source }
      RETURN min(c.id) AS bySerialNumber
    }
    CALL {
      WITH row
      WITH row WHERE row[2] IS NOT NULL
      MATCH (c:Component {fqdn: row[2]})
      WHERE NOT EXISTS { MATCH (own:ExternalRef)-[:REFERS_TO]->(c) WHERE own.source = $source }
      RETURN min(c.id) AS byFqdn
    }
    WITH row, bySerialNumber, byFqdn
    WHERE bySerialNumber IS NOT NULL OR byFqdn IS NOT NULL
    RETURN row[0] AS refKey, bySerialNumber, byFqdn
    """
)

# The relations of $source. Each row: [parentKey, childKey (external ref keys),
# externalId (the relation's own key at the source), typeName]. Dependencies point
# from parent to child, one edge per pair; a relation named again updates it. The
# properties go in ON CREATE / ON MATCH: a SET after the MERGE costs ArcadeDB about
# half as much again. The relations written come back: one that does not has an end
# the graph lacks.
UPSERT_SOURCE_DEPENDENCIES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row[0]})-[:REFERS_TO]->(a:Component)
    MATCH (:ExternalRef {key: row[1]})-[:REFERS_TO]->(b:Component)
    MERGE (a)-[r:DEPENDS_ON]->(b)
    ON CREATE SET r.source = $source, r.externalId = row[2], r.type = row[3]
    ON MATCH SET r += {source: $source, externalId: row[2], type: row[3]}
    RETURN collect(DISTINCT row[2]) AS written
    """
)

# Relations that are not dependencies are kept as they are, apart from the walks: one
# edge per pair and type. Rows as above.
UPSERT_SOURCE_RELATIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row[0]})-[:REFERS_TO]->(a:Component)
    MATCH (:ExternalRef {key: row[1]})-[:REFERS_TO]->(b:Component)
    MERGE (a)-[r:RELATES_TO {type: row[3]}]->(b)
    ON CREATE SET r.source = $source, r.externalId = row[2]
    ON MATCH SET r += {source: $source, externalId: row[2]}
    RETURN collect(DISTINCT row[2]) AS written
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

# The components a source still names and that are not DELETED yet, as two lists in
# one record (external ids and node ids, in the same order): one record decodes much
# faster than one per component.
LIVE_COMPONENT_REFS = Cypher(
    """
    MATCH (ref:ExternalRef {source: $source})-[:REFERS_TO]->(c:Component)
    WHERE c.status <> 'DELETED'
    WITH ref.externalId AS externalId, c.id AS id
    RETURN collect(externalId) AS externalIds, collect(id) AS ids
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

# The keys of a connector's quarantined records: a run that holds the connector's lease
# releases only these (no other run adds any meanwhile), not every record it accepts.
QUARANTINED_KEYS = Cypher(
    """
    MATCH (q:QuarantinedRecord)
    WHERE q.connector = $connector
    RETURN q.key AS key
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

# The runs of $connector still RUNNING, closed as FAILED: the caller holds the
# connector's lease, so none of them is going on (their process was killed, or lost
# the graph before it could record how the run ended).
CLOSE_ABANDONED_RUNS = Cypher(
    """
    MATCH (r:SyncRun {connector: $connector})
    WHERE r.status = $running
    SET r.status = $failed, r.finishedAt = $now, r.error = $error
    RETURN r.id AS id
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
# `SET l.checkedAt` takes the lease's write lock before its holder is read, as in
# CLAIM_NOTIFICATIONS: on Neo4j two replicas could otherwise both read an expired lease
# as free and both take it; ArcadeDB fails one of the two at commit and it is retried.
ACQUIRE_LEASE = Cypher(
    """
    MERGE (l:SyncLease {connector: $connector})
    ON CREATE SET l.holder = $holder, l.expiresAt = $expiresAt
    SET l.checkedAt = $now
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
