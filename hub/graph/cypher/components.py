"""Services, configuration items, their external refs and dependency edges."""

from hub.graph.cypher import Cypher, scope

# Components are written in two steps, each `UNWIND $rows` with rows of refKey,
# source, externalId, newId (used only when the ref is new) and props. The ref
# remembers the node it names (targetId), so a re-import finds the same node even
# after identification rules attached a second source's ref to it.
#
# Why not one `MERGE (c:Component:Service {id: ...})`: on ArcadeDB a MERGE on two
# labels does not use the unique index of `Component.id` and scans every component,
# so imports slowed down as the graph grew (docs/benchmarks.md). The node is looked
# up on the indexed label alone and created with both labels only when it is missing.
# Two imports creating one node at once: the loser fails on the constraint and the
# retried transaction finds the node.
CREATE_MISSING_SERVICES = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row.refKey})
    ON CREATE SET ref.source = row.source, ref.externalId = row.externalId,
                  ref.targetId = row.newId
    WITH DISTINCT ref
    OPTIONAL MATCH (existing:Component {id: ref.targetId})
    WITH ref WHERE existing IS NULL
    CREATE (:Component:Service {id: ref.targetId, createdAt: $now})
    RETURN count(*) AS created
    """
)

CREATE_MISSING_CONFIGURATION_ITEMS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (ref:ExternalRef {key: row.refKey})
    ON CREATE SET ref.source = row.source, ref.externalId = row.externalId,
                  ref.targetId = row.newId
    WITH DISTINCT ref
    OPTIONAL MATCH (existing:Component {id: ref.targetId})
    WITH ref WHERE existing IS NULL
    CREATE (:Component:ConfigurationItem {id: ref.targetId, createdAt: $now})
    RETURN count(*) AS created
    """
)

# Each row also has a rank: the source's place in the precedence order (lower wins).
# A component takes the attributes of the strongest source that describes it; a weaker
# source's record links its ref but changes nothing it says. A service sunset through
# the API (`sunsetPinned`) stays SUNSET.
UPDATE_COMPONENTS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (ref:ExternalRef {key: row.refKey})
    MATCH (c:Component {id: ref.targetId})
    WITH ref, c, row, row.rank <= coalesce(c.sourceRank, row.rank) AS leads
    SET c += CASE WHEN leads THEN row.props ELSE {} END,
        c.sourceRank = CASE WHEN leads THEN row.rank ELSE c.sourceRank END,
        c.updatedAt = $now
    SET c.status = CASE WHEN c.sunsetPinned = true THEN 'SUNSET' ELSE c.status END
    MERGE (ref)-[:REFERS_TO]->(c)
    RETURN count(c) AS written
    """
)

# Each row: serviceRefKey, teamRefKey (null clears the owner). An unchanged owner is
# left alone, so that re-imports write nothing and concurrent ones do not collide.
SET_SERVICE_OWNERS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row.serviceRefKey})-[:REFERS_TO]->(s:Service)
    OPTIONAL MATCH (:ExternalRef {key: row.teamRefKey})-[:REFERS_TO]->(t:Team)
    WITH s, t
    OPTIONAL MATCH (s)-[old:OWNED_BY]->(other:Team)
    WHERE t IS NULL OR other <> t
    DELETE old
    WITH DISTINCT s, t
    WHERE t IS NOT NULL
    MERGE (s)-[:OWNED_BY]->(t)
    """
)

# Each row: fromKey, toKey (external ref keys).
UPSERT_DEPENDENCIES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (:ExternalRef {key: row.fromKey})-[:REFERS_TO]->(a:Component)
    MATCH (:ExternalRef {key: row.toKey})-[:REFERS_TO]->(b:Component)
    MERGE (a)-[:DEPENDS_ON]->(b)
    RETURN count(*) AS written
    """
)

# What each key already names, to keep a key on one kind of record per source.
REF_KINDS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (ref:ExternalRef {key: key})-[:REFERS_TO]->(n)
    RETURN ref.key AS key, labels(n) AS labels
    """
)

LOOKUP_REF = Cypher(
    """
    MATCH (ref:ExternalRef {key: $key})-[:REFERS_TO]->(n)
    RETURN n.id AS id
    """
)

COMPONENTS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})
    WHERE """
    + scope.component_visible("c")
    + """
    OPTIONAL MATCH (c)-[:OWNED_BY]->(t:Team)
    RETURN properties(c) AS props, labels(c) AS labels, t.id AS ownerId
    """
)

REFS_BY_NODE_IDS = Cypher(
    """
    MATCH (ref:ExternalRef)
    WHERE ref.targetId IN $ids
    RETURN ref.targetId AS id, ref.source AS source, ref.externalId AS externalId
    ORDER BY source, externalId
    """
)

LIST_SERVICES = Cypher(
    """
    MATCH (c:Service)
    WHERE ($after IS NULL OR c.id > $after)
      AND ($statuses IS NULL OR c.status IN $statuses)
      AND ($tiers IS NULL OR c.tier IN $tiers)
      AND ($businessUnit IS NULL OR c.businessUnit = $businessUnit)
      AND ($region IS NULL OR c.region = $region)
      AND ($nameContains IS NULL OR toLower(c.name) CONTAINS toLower($nameContains))
      AND """
    + scope.service_visible("c")
    + """
    OPTIONAL MATCH (c)-[:OWNED_BY]->(t:Team)
    RETURN properties(c) AS props, labels(c) AS labels, t.id AS ownerId
    ORDER BY c.id
    LIMIT $limit
    """
)

# The configuration items with an id in the slice $lo < id <= $hi of the id space
# (`hub.graph.key_ranges`: the repository reads a page slice by slice), by id. The
# slice is a range of the Component id index, planned alone before the filters: the
# embedded server neither streams ORDER BY from an index nor stops a sorted read
# early, so a page read whole (`$after IS NULL OR c.id > $after`) read and sorted every
# CI. It matches `Component` and checks the label after: matched on
# `ConfigurationItem`, ArcadeDB scans the label (no index of its own on id).
LIST_CONFIGURATION_ITEMS = Cypher(
    """
    MATCH (c:Component)
    WHERE c.id > $lo AND c.id <= $hi
    WITH c
    WHERE c:ConfigurationItem
      AND ($statuses IS NULL OR c.status IN $statuses)
      AND ($ciClass IS NULL OR c.ciClass = $ciClass)
      AND ($environment IS NULL OR c.environment = $environment)
      AND ($location IS NULL OR c.location = $location)
      AND ($nameContains IS NULL OR toLower(c.name) CONTAINS toLower($nameContains))
      AND """
    + scope.internal_visible()
    + """
    WITH c
    ORDER BY c.id
    LIMIT $limit
    RETURN properties(c) AS props, labels(c) AS labels, null AS ownerId
    """
)

SET_COMPONENT_STATUS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Component {id: id})
    SET c.status = $status, c.updatedAt = $now
    RETURN c.id AS id
    """
)
