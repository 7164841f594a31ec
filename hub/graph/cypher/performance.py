"""Vendor and team performance, the remediation rule's actions, and violation trends
(`hub.graph.repositories.performance`, docs/remediation.md).

A vendor's agreements are the underpinning contracts with it
(`(a:Agreement {kind: 'UC'})-[:WITH_VENDOR]->(:Vendor)`); a team's, the OLAs it
provides (`(a:Agreement {kind: 'OLA'})-[:PROVIDED_BY]->(:Team)`). A period is missed
when the version holds a current violation of it: a revision whose `recordKey` starts
with `OPEN_RECORD|` (`hub.graph.repositories.violations`). A period whose remediation
record is VOID has no current revision; the VOID keys are read as well, so that a
revision and its record can never disagree unnoticed.

Trends are one aggregation in the graph per grouping: the violated periods (their
remediation records that are not VOID, i.e. that have a current revision) whose period
starts in [$from, $to), bucketed by the start of their week (ISO, Monday), month or
quarter, counted, and their credits summed per currency (`toFloat` of the stored
decimal strings; see the repository for why a float is good enough there).
"""

from typing import LiteralString

from hub.graph.cypher import Cypher, scope

# ---- performance: a party's agreements, objectives and misses --------------------------


def _party_agreements(
    label: LiteralString, rel: LiteralString, kind: LiteralString
) -> LiteralString:
    return (
        f"""
    MATCH (p:{label})<-[:{rel}]-(a:Agreement)
    WHERE ($partyIds IS NULL OR p.id IN $partyIds)
    WITH p, a
    WHERE a.kind = '{kind}' AND a.state = 'APPROVED' AND a.effectiveFrom < $now
      AND """
        + scope.agreement_visible("a")
        + """
    RETURN p.id AS partyId, a.id AS agreementId, coalesce(a.lineage, a.id) AS lineage,
           a.name AS name, a.version AS version, a.effectiveFrom AS effectiveFrom,
           a.effectiveTo AS effectiveTo, a.sunsetAt AS sunsetAt,
           coalesce(a.requiredGroups, []) AS requiredGroups,
           coalesce(a.approvals, []) AS approvals,
           [(a)-[:HAS_OBJECTIVE]->(o:Objective) | o {.id, .windowKind, .target}] AS objectives,
           [(a)-[:HAS_VIOLATION]->(v:Violation)
            WHERE v.recordKey STARTS WITH $openRecord AND v.periodEnd > $since
            | v {.objectiveId, .periodStart, .measured, .target}] AS misses,
           [(a)-[:HAS_REMEDIATION]->(r:Remediation) WHERE r.status = 'VOID' | r.key] AS voided,
           [(a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(c:Customer)
            | c.businessUnit] AS units
    ORDER BY p.id, a.id
    """
    )


# The UCs with each vendor ($partyIds null: every vendor), as the reader may see them.
VENDOR_AGREEMENTS = Cypher(_party_agreements("Vendor", "WITH_VENDOR", "UC"))

# The OLAs each team provides ($partyIds null: every team), as the reader may see them.
TEAM_AGREEMENTS = Cypher(_party_agreements("Team", "PROVIDED_BY", "OLA"))

# The parties asked for: one vendor or team by id, or all of them. Teams and vendors
# are shared infrastructure (every staff token reads them; a customer's asks nothing).
VENDORS = Cypher(
    """
    MATCH (p:Vendor)
    WHERE $partyIds IS NULL OR p.id IN $partyIds
    RETURN p.id AS id, p.name AS name
    ORDER BY p.id
    """
)

TEAMS = Cypher(
    """
    MATCH (p:Team)
    WHERE $partyIds IS NULL OR p.id IN $partyIds
    RETURN p.id AS id, p.name AS name
    ORDER BY p.id
    """
)

# ---- the rule's actions ----------------------------------------------------------------

# The OPEN REMEDIATION actions on any version of each lineage: while one is open, the
# rule opens no other on that agreement.
OPEN_REMEDIATION_ACTIONS = Cypher(
    """
    UNWIND $lineages AS lineage
    MATCH (a:Agreement)
    WHERE a.lineage = lineage
    WITH a, lineage
    MATCH (a)-[:HAS_ACTION]->(x:Action)
    WHERE x.kind = 'REMEDIATION' AND x.status = 'OPEN'
    RETURN lineage, x.id AS actionId
    """
)

# Serialises the rule's transactions on one agreement: two processes acting on the same
# lineage at once conflict here, and the retried one then sees the other's action.
MARK_REVIEWED = Cypher(
    """
    MATCH (a:Agreement {id: $lineage})
    SET a.performanceReviewedAt = $now
    RETURN a.id AS id
    """
)

# ---- trends ------------------------------------------------------------------------------

_BUCKET: LiteralString = """CASE $interval
        WHEN 'WEEK' THEN toString(date.truncate('week', date(substring(r.periodStart, 0, 10))))
        WHEN 'QUARTER' THEN substring(r.periodStart, 0, 5)
             + right('0' + toString(((toInteger(substring(r.periodStart, 5, 2)) - 1) / 3) * 3
                     + 1), 2) + '-01'
        ELSE substring(r.periodStart, 0, 7) + '-01' END"""

# The customers a violation's agreement belongs to: an SLA's own, or those of the SLAs
# an OLA or UC underpins; only those the reader may see.
_CUSTOMERS: LiteralString = (
    "[(a)-[:FOR_CUSTOMER]->(own:Customer) WHERE "
    + scope.customer_visible("own")
    + " | own] + [(a)-[:UNDERPINS]->(:Agreement)-[:FOR_CUSTOMER]->(via:Customer) WHERE "
    + scope.customer_visible("via")
    + " | via]"
)

# The services a violation is about: those its agreement covers, or for an OLA or UC
# that covers none, those the SLAs it underpins cover; only those the reader may see.
_SERVICES: LiteralString = (
    "CASE WHEN EXISTS { MATCH (a)-[:COVERS]->(:Service) }"
    " THEN [(a)-[:COVERS]->(s:Service) WHERE "
    + scope.service_visible("s")
    + " | s.name] ELSE [(a)-[:UNDERPINS]->(:Agreement)-[:COVERS]->(t:Service) WHERE "
    + scope.service_visible("t")
    + " | t.name] END"
)


def _distinct(values: LiteralString) -> LiteralString:
    return f"reduce(seen = [], x IN {values} | CASE WHEN x IN seen THEN seen ELSE seen + x END)"


def _trends(groups: LiteralString | None, detail: LiteralString = "null") -> LiteralString:
    """One aggregation. Violated periods are counted on their remediation records (one
    per period; not VOID exactly while the period has a current revision, whose
    severity it carries), so no violation revision is read, and their credits are the
    sums the credit ledger keeps on them (`hub.graph.cypher.credits.ROLL_UP_CREDITS`:
    exact minor units), so no credit is read either. The reader's scope is
    checked once per agreement; its periods are counted per bucket, `detail` (a group
    value of each record, e.g. its severity, used when `groups` is None) and currency;
    the agreement's group values (`groups`, on `a`) are taken once per agreement, and
    the counts summed per bucket, group and currency."""
    return (
        """
    MATCH (a:Agreement)
    WHERE """
        + scope.agreement_visible("a")
        + """
    MATCH (a)-[:HAS_REMEDIATION]->(r:Remediation)
    WHERE r.periodStart >= $from AND r.periodStart < $to AND r.status <> 'VOID'
    WITH a, """
        + _BUCKET
        + """ AS bucket, """
        + detail
        + """ AS detail,
         r.creditCurrency AS currency, coalesce(r.creditDigits, 0) AS digits,
         count(r) AS violations, sum(coalesce(r.creditMinor, 0)) AS amount
    WITH a, collect({bucket: bucket, detail: detail, currency: currency, digits: digits,
                     violations: violations, amount: amount}) AS cells
    WITH cells, """
        + ("null" if groups is None else _distinct(groups))
        + """ AS groups
    UNWIND cells AS cell
    UNWIND """
        + ("[cell.detail]" if groups is None else "groups")
        + """ AS grp
    WITH cell.bucket AS bucket, grp, cell.currency AS currency, cell.digits AS digits,
         sum(cell.violations) AS violations, sum(cell.amount) AS amount
    RETURN bucket, grp AS `group`, currency, digits, violations, amount
    ORDER BY bucket, `group`, currency
    """
    )


TRENDS_BY_SERVICE = Cypher(_trends(_SERVICES))
TRENDS_BY_AGREEMENT = Cypher(_trends("[a.name]"))
TRENDS_BY_KIND = Cypher(_trends("[a.kind]"))
TRENDS_BY_SEVERITY = Cypher(_trends(None, "r.severity"))
TRENDS_BY_BUSINESS_UNIT = Cypher(
    _trends("[k IN " + _CUSTOMERS + " | coalesce(k.businessUnit, '(none)')]")
)
TRENDS_BY_REGION = Cypher(_trends("[k IN " + _CUSTOMERS + " | coalesce(k.region, '(none)')]"))
TRENDS_BY_VENDOR = Cypher(_trends("[(a)-[:WITH_VENDOR]->(p:Vendor) | p.name]"))
TRENDS_BY_TEAM = Cypher(_trends("[(a)-[:PROVIDED_BY]->(p:Team) | p.name]"))
