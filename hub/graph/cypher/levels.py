"""Multi-level SLAs (`hub.domain.levels`): parents, children and inherited objectives.

An SLA version stores its `level` and the lineage of its parent SLA
(`parentLineage`); both are terms, written with the version. What a child version
inherits is materialised: for each objective of an approved ancestor version that it
inherits, the child keeps a derived Objective node (`inheritedFrom`: the ancestor's
objective id, `inheritedVersion`: the ancestor version's id) under HAS_OBJECTIVE, so
that the engine measures, assesses and alerts on it as the child's own, on the child's
own series and covered components. Own objectives are those without `inheritedFrom`.
"""

from __future__ import annotations

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force

# The parent a new SLA names: its lineage (or any version's id) if the author may read
# it, with the level of its latest version.
PARENT_SLA = Cypher(
    """
    MATCH (p:Agreement)
    WHERE p.lineage = $parentId OR p.id = $parentId
    WITH p
    WHERE p.kind = 'SLA' AND """
    + scope.agreement_visible("p")
    + """
    WITH p
    ORDER BY p.version DESC
    LIMIT 1
    RETURN p.lineage AS lineage, coalesce(p.level, 'SERVICE') AS level
    """
)

# The lineages whose parent is one of $lineages (unscoped: inheritance is part of the
# children's terms, whoever approves the parent).
CHILD_LINEAGES = Cypher(
    """
    MATCH (c:Agreement)
    WHERE c.parentLineage IN $lineages
    RETURN DISTINCT c.lineage AS lineage, c.parentLineage AS parentLineage
    """
)

# The approved versions of each lineage with their valid time, their parent lineage
# and their own objectives: what inheritance is computed from.
APPROVED_VERSIONS_WITH_OBJECTIVES = Cypher(
    """
    UNWIND $lineages AS lineage
    MATCH (a:Agreement {lineage: lineage})
    WHERE a.state = 'APPROVED'
    RETURN lineage, a.id AS id, a.parentLineage AS parentLineage,
           a.effectiveFrom AS effectiveFrom, a.effectiveTo AS effectiveTo,
           a.sunsetAt AS sunsetAt,
           [(a)-[:HAS_OBJECTIVE]->(o:Objective) WHERE o.inheritedFrom IS NULL
            | properties(o)] AS objectives
    ORDER BY lineage, a.version
    """
)

# Which of the derived objectives named already exist (their creation is audited once).
EXISTING_OBJECTIVE_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (o:Objective {id: id})
    RETURN collect(o.id) AS ids
    """
)

# Each row: childId and props (the derived objective's properties, id included).
# MERGE on the stable id: the approval's transaction may run twice, and an approval
# recomputes the whole family's inheritance.
MERGE_INHERITED_OBJECTIVES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (c:Agreement {id: row.childId})
    MERGE (d:Objective {id: row.props.id})
    ON CREATE SET d += row.props, d.createdAt = $now
    MERGE (c)-[:HAS_OBJECTIVE]->(d)
    RETURN count(d) AS merged
    """
)

# The versions of the parent (and grandparent) lineage in force at each row's instant:
# whose terms the row's version inherits then (unscoped, as above). The lineage in the
# pattern, not in WHERE: ArcadeDB then looks it up on the index (0.9-1.2 s against
# 1.6-3.9 s for 500 rows; a null lineage matches nothing either way).
ANCESTORS_IN_FORCE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (c:Agreement {id: row.id})
    OPTIONAL MATCH (p:Agreement {lineage: c.parentLineage})
    WHERE """
    + in_force("p", "row.at")
    + """
    WITH row, c, p
    ORDER BY p.version DESC
    WITH row, c, head(collect(p)) AS p
    OPTIONAL MATCH (g:Agreement {lineage: p.parentLineage})
    WHERE """
    + in_force("g", "row.at")
    + """
    WITH row, c, p, g
    ORDER BY g.version DESC
    WITH row, c, p, head(collect(g)) AS g
    RETURN c.id AS id, c.clauses AS clauses, p.id AS parentId, p.clauses AS parentClauses,
           g.id AS grandparentId, g.clauses AS grandparentClauses
    """
)

# The derived objectives of each version (own ones are `agreements.OBJECTIVES_BY_AGREEMENT_IDS`).
INHERITED_OBJECTIVES_BY_AGREEMENT_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE o.inheritedFrom IS NOT NULL
    RETURN id AS agreementId, properties(o) AS props
    ORDER BY o.id
    """
)

# The child lineages of each lineage with a version in force at $now that the reader
# may see, that version's id.
CHILDREN_IN_FORCE = Cypher(
    """
    UNWIND $lineages AS lineage
    MATCH (c:Agreement)
    WHERE c.parentLineage = lineage AND """
    + in_force("c")
    + " AND "
    + scope.agreement_visible("c")
    + """
    RETURN lineage, c.id AS id
    ORDER BY c.lineage, c.version
    """
)

# ---- migration 13: multi-level SLAs -------------------------------------------------

AGREEMENT_PARENT_LINEAGE_INDEX = Cypher(
    "CREATE INDEX agreement_parent_lineage IF NOT EXISTS FOR (n:Agreement) ON (n.parentLineage)"
)
