"""Agreements, their versions, their objectives, what they cover and who they are with.

Every version is a node of its own; versions of one agreement share `lineage` (the id
of version 1) and each names its predecessor: `(v2)-[:PREVIOUS_VERSION]->(v1)`. A
version stores its workflow `state` and valid time; its status is derived when asked
(`hub.graph.cypher.validity`). `versionKey` (lineage#version) is unique, so two
revisions racing for the same version number cannot both commit.
"""

from typing import LiteralString

from hub.graph.cypher import Cypher, scope
from hub.graph.cypher.validity import in_force, latest, status_at

# What a version's business unit and region are derived from (docs/security.md): an
# SLA's customer, or the customers of the SLAs an OLA or UC underpins (an agreement
# has one or the other). Missing values read as '' so that every engine keeps them;
# `hub.domain.terms.common_value` decides. Appended to the RETURN of every statement
# that reads agreements: no round trip of its own. With them, the times of the
# version's recorded reviews (`hub.graph.cypher.reviews`), which its next review
# counts from.
_DERIVED_SCOPE: LiteralString = """,
           [(a)-[:FOR_CUSTOMER]->(unit_c:Customer) | coalesce(unit_c.businessUnit, '')]
           + [(a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(unit_u:Customer)
              | coalesce(unit_u.businessUnit, '')] AS units,
           [(a)-[:FOR_CUSTOMER]->(region_c:Customer) | coalesce(region_c.region, '')]
           + [(a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(region_u:Customer)
              | coalesce(region_u.region, '')] AS regions,
           [(a)<-[:REVIEWS]-(review:Review) | review.reviewedAt] AS reviewedAt"""


def _derived_is(prop: LiteralString, param: LiteralString) -> LiteralString:
    """Whether the derived unit (or region) of `a` is `param`: its customer's for an
    SLA; for an OLA or UC, that of every SLA it underpins (and it underpins one)."""
    return (
        f"(({param} IS NULL)"
        f" OR (a.kind = 'SLA' AND EXISTS {{ MATCH (a)-[:FOR_CUSTOMER]->(a_{prop}_c:Customer)"
        f" WHERE a_{prop}_c.{prop} = {param} }})"
        f" OR (a.kind <> 'SLA' AND EXISTS {{ MATCH (a)-[:UNDERPINS]->(:Agreement)"
        f"-[:FOR_CUSTOMER]->(a_{prop}_u:Customer) WHERE a_{prop}_u.{prop} = {param} }}"
        f" AND NOT EXISTS {{ MATCH (a)-[:UNDERPINS]->(:Agreement)"
        f"-[:FOR_CUSTOMER]->(a_{prop}_x:Customer)"
        f" WHERE a_{prop}_x.{prop} IS NULL OR a_{prop}_x.{prop} <> {param} }}))"
    )


# The regulatory filters of a list (`agreements(regulation:, businessUnit:, region:)`).
_TERMS_FILTER: LiteralString = (
    "($regulation IS NULL OR $regulation IN coalesce(a.regulations, []))"
    " AND "
    + _derived_is("businessUnit", "$businessUnit")
    + " AND "
    + _derived_is("region", "$region")
)

# A version 1 or a revision. MERGE on a pre-generated id: the managed transaction may
# run twice. `$objectives` are complete property maps (new nodes, new ids).
CREATE_AGREEMENT = Cypher(
    """
    MERGE (a:Agreement {id: $id})
    ON CREATE SET a.kind = $kind, a.name = $name, a.lineage = $lineage,
                  a.version = $version, a.versionKey = $versionKey, a.state = 'DRAFT',
                  a.effectiveFrom = $effectiveFrom, a.effectiveTo = $effectiveTo,
                  a.createdAt = $now, a.recordedAt = $now, a.createdBy = $actor,
                  a.approvals = [], a.creditPolicy = $creditPolicy,
                  a.supportHours = $supportHours, a.clauses = $clauses,
                  a.regulations = $regulations, a.jurisdiction = $jurisdiction,
                  a.dataResidency = $dataResidency, a.reviewCycle = $reviewCycle,
                  a.level = $level, a.parentLineage = $parentLineage,
                  a.indemnityPercent = $indemnityPercent
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

LINK_PREVIOUS_VERSION = Cypher(
    """
    MATCH (a:Agreement {id: $id}), (previous:Agreement {id: $previousId})
    MERGE (a)-[:PREVIOUS_VERSION]->(previous)
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
    OPTIONAL MATCH (a)-[:PREVIOUS_VERSION]->(previous:Agreement)
    RETURN properties(a) AS props, p.id AS counterpartId, previous.id AS previousId"""
    + _DERIVED_SCOPE
    + """
    """
)

# Every version of each lineage that the reader may see (through the lineage index).
VERSIONS_BY_LINEAGES = Cypher(
    """
    UNWIND $lineages AS lineage
    MATCH (a:Agreement {lineage: lineage})
    WHERE """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    OPTIONAL MATCH (a)-[:PREVIOUS_VERSION]->(previous:Agreement)
    RETURN lineage, properties(a) AS props, p.id AS counterpartId, previous.id AS previousId"""
    + _DERIVED_SCOPE
    + """
    ORDER BY lineage, a.version
    """
)

# Every version of one lineage, for the writes that decide by the whole lineage (which
# version is the latest, which ones a newly approved version ends). Unscoped: they run
# only after the version named passed the scope check.
LINEAGE_VERSIONS = Cypher(
    """
    MATCH (a:Agreement {lineage: $lineage})
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    OPTIONAL MATCH (a)-[:PREVIOUS_VERSION]->(previous:Agreement)
    RETURN properties(a) AS props, p.id AS counterpartId, previous.id AS previousId"""
    + _DERIVED_SCOPE
    + """
    ORDER BY a.version
    """
)

# The version of a lineage in force at $at (the latest one, should two overlap). Shaped
# for ArcadeDB's planner, which seeks the lineage index for a first WHERE on its own,
# and plans nothing at all for a statement with an OPTIONAL MATCH (hence the pattern
# comprehensions); `tests/graph/test_versions.py` checks the plans.
AGREEMENT_AS_OF = Cypher(
    """
    MATCH (a:Agreement)
    WHERE a.lineage = $lineage
    WITH a
    WHERE """
    + in_force("a", "$at")
    + " AND "
    + scope.agreement_visible("a")
    + """
    WITH a
    ORDER BY a.version DESC
    LIMIT 1
    RETURN properties(a) AS props,
           head([(a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p) | p.id]) AS counterpartId,
           head([(a)-[:PREVIOUS_VERSION]->(previous:Agreement) | previous.id]) AS previousId"""
    + _DERIVED_SCOPE
    + """
    """
)

# An agreement's own objectives: not those it inherits (`hub.graph.cypher.levels`).
OBJECTIVES_BY_AGREEMENT_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})-[:HAS_OBJECTIVE]->(o:Objective)
    WHERE o.inheritedFrom IS NULL
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

# What underpins an SLA underpins its lineage: the latest version of each OLA or UC
# that underpins any version of it (an OLA keeps naming the SLA version it was written
# against; a revision of the SLA does not change the OLA's terms).
UNDERPINNING_IDS_BY_SLA_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (sla:Agreement {id: id})
    MATCH (version:Agreement {lineage: sla.lineage})<-[:UNDERPINS]-(a:Agreement)
    WHERE """
    + latest("a")
    + """
    RETURN DISTINCT id AS slaId, a.id AS agreementId
    ORDER BY agreementId
    """
)

# The SLAs each agreement underpins (what a revision copies).
UNDERPINNED_IDS_BY_AGREEMENT_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Agreement {id: id})-[:UNDERPINS]->(sla:Agreement)
    RETURN id AS agreementId, sla.id AS slaId
    ORDER BY sla.id
    """
)

# With what the status is derived from (`hub.domain.validity`), and whether the
# version is its lineage's latest.
SLA_IDS_BY_SERVICE_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (:Component {id: id})<-[:COVERS]-(a:Agreement)
    WHERE a.kind = 'SLA'
    OPTIONAL MATCH (a)<-[:PREVIOUS_VERSION]-(next:Agreement)
    RETURN id AS serviceId, a.id AS agreementId, a.state AS state,
           a.effectiveFrom AS effectiveFrom, a.effectiveTo AS effectiveTo,
           a.supersededAt AS supersededAt, a.sunsetAt AS sunsetAt, next IS NULL AS latest
    ORDER BY a.id
    """
)

# A page by id. With statuses, the versions whose status at $now is one of them; with
# neither statuses nor a time, the latest version of each lineage.
LIST_AGREEMENTS = Cypher(
    """
    MATCH (a:Agreement)
    WHERE ($after IS NULL OR a.id > $after)
      AND ($kinds IS NULL OR a.kind IN $kinds)
      AND ($statuses IS NULL OR """
    + status_at("a")
    + """ IN $statuses)
      AND ($statuses IS NOT NULL OR """
    + latest("a")
    + """)
      AND ($customerId IS NULL
           OR EXISTS { MATCH (a)-[:FOR_CUSTOMER]->(:Customer {id: $customerId}) })
      AND ($serviceId IS NULL
           OR EXISTS { MATCH (a)-[:COVERS]->(:Component {id: $serviceId}) })
      AND """
    + _TERMS_FILTER
    + """
      AND """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    OPTIONAL MATCH (a)-[:PREVIOUS_VERSION]->(previous:Agreement)
    RETURN properties(a) AS props, p.id AS counterpartId, previous.id AS previousId"""
    + _DERIVED_SCOPE
    + """
    ORDER BY a.id
    LIMIT $limit
    """
)

# The versions in force at $asOf with an id in the slice $lo < id <= $hi of the id
# space (`hub.graph.key_ranges`: the repository reads a page slice by slice), by id.
# The slice is the range the id index answers (planned alone, as above); read from the
# effectiveFrom index instead, a recent instant would read and sort every version.
# Statuses (at $now) may narrow them further.
LIST_AGREEMENTS_AS_OF = Cypher(
    """
    MATCH (a:Agreement)
    WHERE a.id > $lo AND a.id <= $hi
    WITH a
    WHERE """
    + in_force("a", "$asOf")
    + """
      AND ($kinds IS NULL OR a.kind IN $kinds)
      AND ($statuses IS NULL OR """
    + status_at("a")
    + """ IN $statuses)
      AND ($customerId IS NULL
           OR EXISTS { MATCH (a)-[:FOR_CUSTOMER]->(:Customer {id: $customerId}) })
      AND ($serviceId IS NULL
           OR EXISTS { MATCH (a)-[:COVERS]->(:Component {id: $serviceId}) })
      AND """
    + _TERMS_FILTER
    + """
      AND """
    + scope.agreement_visible("a")
    + """
    WITH a
    ORDER BY a.id
    LIMIT $limit
    RETURN properties(a) AS props,
           head([(a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p) | p.id]) AS counterpartId,
           head([(a)-[:PREVIOUS_VERSION]->(previous:Agreement) | previous.id]) AS previousId"""
    + _DERIVED_SCOPE
    + """
    """
)

# Candidates for `upcomingRenewals` and the renewal reminders: versions in force at
# $now with a review cycle, or ending by $until. Which of them are due (the next review
# is computed in calendar months) is decided in Python (`hub.domain.reviews.due`).
RENEWAL_CANDIDATES = Cypher(
    """
    MATCH (a:Agreement)
    WHERE a.state = 'APPROVED' AND a.effectiveFrom <= $now
    WITH a
    WHERE """
    + in_force("a", "$now")
    + """
      AND (a.reviewCycle IS NOT NULL OR a.effectiveTo <= $until)
      AND """
    + scope.agreement_visible("a")
    + """
    OPTIONAL MATCH (a)-[:FOR_CUSTOMER|PROVIDED_BY|WITH_VENDOR]->(p)
    OPTIONAL MATCH (a)-[:PREVIOUS_VERSION]->(previous:Agreement)
    RETURN properties(a) AS props, p.id AS counterpartId, previous.id AS previousId"""
    + _DERIVED_SCOPE
    + """
    """
)

# Optimistic: the change applies only if nobody moved the version meanwhile. Only the
# workflow moves here: the start is set once, by the approval that completes it
# (`$effectiveFrom` null otherwise), and the board groups once, at submission
# (`$requiredGroups` null otherwise), never the other terms.
#
# The first SET takes the version's write lock before the state and approvals are
# compared. Without it the compare is not a compare-and-set on either engine. Neo4j
# reads committed values without locking, so two approvals could both pass the WHERE
# and the second SET overwrite the first. ArcadeDB puts a record under its commit-time
# conflict check only when the record is first written, not when the WHERE reads it:
# a commit that lands in between is overwritten and both transactions succeed (lost
# approvals, measured: 11 of 60 races with a slow WHERE, about 1 in 200 without; 0 of
# 360 with the lock first). Written first, the record is checked from the image the
# WHERE then reads, so the later writer fails at commit and the driver runs it again.
TRANSITION_AGREEMENT = Cypher(
    """
    MATCH (a:Agreement {id: $id})
    WHERE """
    + scope.agreement_visible("a")
    + """
    SET a.lockedAt = $now
    WITH a
    WHERE a.state = $expectedState AND a.approvals = $expectedApprovals
    SET a.state = $state, a.submittedBy = coalesce($submittedBy, a.submittedBy),
        a.submittedAt = coalesce($submittedAt, a.submittedAt),
        a.approvals = $approvals, a.approvalLog = $approvalLog,
        a.requiredGroups = coalesce($requiredGroups, a.requiredGroups),
        a.effectiveFrom = coalesce($effectiveFrom, a.effectiveFrom),
        a.approvedAt = coalesce($approvedAt, a.approvedAt),
        a.endedAt = coalesce($endedAt, a.endedAt), a.updatedAt = $now
    RETURN a.id AS id
    """
)

# The tiers of the services a version covers (CIs have none), for its approval board.
COVERED_TIERS = Cypher(
    """
    MATCH (a:Agreement {id: $id})-[:COVERS]->(s:Service)
    RETURN collect(s.tier) AS tiers
    """
)

# A newly approved version takes over from earlier ones still in force (or scheduled)
# at `row.at`: their end becomes that instant. Nothing else of theirs changes.
SUPERSEDE_VERSIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.id})
    WHERE a.state = 'APPROVED'
    SET a.effectiveTo = row.at, a.supersededAt = row.at, a.supersededBy = $by,
        a.updatedAt = $now
    RETURN count(a) AS ended
    """
)

# ---- migration 8: versions ---------------------------------------------------------

AGREEMENT_LINEAGE_INDEX = Cypher(
    "CREATE INDEX agreement_lineage IF NOT EXISTS FOR (n:Agreement) ON (n.lineage)"
)


AGREEMENT_EFFECTIVE_FROM_INDEX = Cypher(
    "CREATE INDEX agreement_effective_from IF NOT EXISTS FOR (n:Agreement) ON (n.effectiveFrom)"
)


AGREEMENT_STATE_INDEX = Cypher(
    "CREATE INDEX agreement_state IF NOT EXISTS FOR (n:Agreement) ON (n.state)"
)


AGREEMENT_VERSION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT agreement_version_key IF NOT EXISTS "
    "FOR (n:Agreement) REQUIRE n.versionKey IS UNIQUE"
)

# Agreements written before versions: one page at a time, by id.
UNVERSIONED_AGREEMENTS = Cypher(
    """
    MATCH (a:Agreement)
    WHERE a.lineage IS NULL
    RETURN properties(a) AS props
    ORDER BY a.id
    LIMIT $limit
    """
)

# Each row: id and the version fields (`status` gives way to `state`).
VERSION_AGREEMENTS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.id})
    WHERE a.lineage IS NULL
    SET a += row.props
    REMOVE a.status
    RETURN count(a) AS versioned
    """
)
