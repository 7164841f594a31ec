"""The credit ledger: `(r:Remediation)-[:HAS_CREDIT]->(c:Credit)`, corrections
`(c)-[:CORRECTS]->(earlier:Credit)`, and the indemnities of the OLAs and UCs that
underpin an SLA.

A credit is read and changed with its agreement (`scope.agreement_visible`); the
amount is stored as a decimal string ("1200.00"). Indexes wanted (the lead's
migration): `CREDIT_ID_UNIQUE`.
"""

from hub.graph.cypher import Cypher, scope

CREDIT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT credit_id IF NOT EXISTS FOR (c:Credit) REQUIRE c.id IS UNIQUE"
)

# In an assessment's transaction: each changed period's agreement version (its kind
# and credit policy) and the credits of its remediation so far.
CREDIT_CONTEXT = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.agreementId})
    OPTIONAL MATCH (r:Remediation {key: row.key})
    OPTIONAL MATCH (r)-[:HAS_CREDIT]->(c:Credit)
    RETURN row.key AS key, a.kind AS kind, a.creditPolicy AS creditPolicy,
           r.id AS remediationId, collect(c {.*}) AS credits
    """
)

# New credits of a period (idempotent: MERGE on a pre-generated id).
CREATE_CREDITS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (r:Remediation {key: row.key})
    MERGE (c:Credit {id: row.props.id})
    ON CREATE SET c += row.props
    MERGE (r)-[:HAS_CREDIT]->(c)
    """
)

LINK_CORRECTIONS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (c:Credit {id: row.id})
    MATCH (earlier:Credit {id: row.correctsId})
    MERGE (c)-[:CORRECTS]->(earlier)
    """
)

UPDATE_CREDITS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (c:Credit {id: row.id})
    SET c += row.props
    """
)

# A change of a credit reads it, decides in Python and writes it back in one
# transaction: this takes the credit's write lock before that read, so that two racing
# changes cannot both start from the same credit (Neo4j reads without locking; ArcadeDB
# checks a record for conflicts only from its first write; see
# `hub.graph.cypher.agreements.TRANSITION_AGREEMENT`). Nothing for a credit out of scope.
LOCK_CREDIT = Cypher(
    """
    MATCH (c:Credit {id: $id})
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(:Remediation)-[:HAS_CREDIT]->(c)
    WHERE """
    + scope.agreement_visible("a")
    + """
    WITH DISTINCT c
    SET c.lockedAt = $now
    RETURN c.id AS id
    """
)

# An assessment's revision of credits reads them (`CREDIT_CONTEXT`), decides in Python
# and writes them back in its transaction: this takes the write lock of every credit of
# the periods first, in one statement, so that an approval, issue or dispute committed
# meanwhile makes one of the two transactions fail and run again, rather than be
# overwritten (see `LOCK_CREDIT`). Unscoped, like the assessment.
LOCK_PERIOD_CREDITS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (:Remediation {key: key})-[:HAS_CREDIT]->(c:Credit)
    SET c.lockedAt = $now
    RETURN count(c) AS locked
    """
)

# A credit to change, with every credit of its period (a correction needs them),
# the kind of its agreement and its SLA's customer.
CREDIT_FOR_CHANGE = Cypher(
    """
    MATCH (c:Credit {id: $id})
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation)-[:HAS_CREDIT]->(c)
    WHERE """
    + scope.agreement_visible("a")
    + """
    MATCH (r)-[:HAS_CREDIT]->(other:Credit)
    RETURN c {.*} AS credit, r.key AS key, collect(other {.*}) AS others
    """
)

CREDITS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Credit {id: id})
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(:Remediation)-[:HAS_CREDIT]->(c)
    WHERE """
    + scope.agreement_visible("a")
    + """
    RETURN c {.*} AS credit
    """
)

CREDITS_BY_REMEDIATION_KEYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation {key: key})
    WHERE """
    + scope.agreement_visible("a")
    + """
    MATCH (r)-[:HAS_CREDIT]->(c:Credit)
    RETURN key, c {.*} AS credit
    """
)

# `credits(status, from, to)`: credits whose violation period overlaps [from, to).
CREDITS = Cypher(
    """
    MATCH (a:Agreement)-[:HAS_REMEDIATION]->(r:Remediation)-[:HAS_CREDIT]->(c:Credit)
    WHERE ($statuses IS NULL OR c.status IN $statuses)
      AND ($from IS NULL OR r.periodEnd > $from)
      AND ($to IS NULL OR r.periodStart < $to)
      AND """
    + scope.agreement_visible("a")
    + """
    RETURN c {.*} AS credit
    ORDER BY c.createdAt, c.id
    LIMIT $limit
    """
)

# The OLAs and UCs (any version) that underpin any version of a credit's SLA, carry
# an indemnity percent and have a current violation overlapping the credit's period;
# internal records, so never for a customer token. Their clauses are checked for an
# INDEMNIFICATION clause by the caller (stored as JSON text).
INDEMNITIES = Cypher(
    """
    UNWIND $ids AS id
    MATCH (c:Credit {id: id})
    MATCH (sla:Agreement)-[:HAS_REMEDIATION]->(r:Remediation)-[:HAS_CREDIT]->(c)
    WHERE $scopeCustomer IS NULL AND sla.kind = 'SLA' AND """
    + scope.agreement_visible("sla")
    + """
    MATCH (u:Agreement)-[:UNDERPINS]->(target:Agreement)
    WHERE target.lineage = sla.lineage AND u.indemnityPercent IS NOT NULL
      AND EXISTS {
        MATCH (u)-[:HAS_VIOLATION]->(v:Violation)
        WHERE v.supersededAt IS NULL
          AND v.periodStart < r.periodEnd AND v.periodEnd > r.periodStart
      }
    WITH DISTINCT c, u
    OPTIONAL MATCH (u)-[:PROVIDED_BY]->(team:Team)
    OPTIONAL MATCH (u)-[:WITH_VENDOR]->(vendor:Vendor)
    RETURN c.id AS creditId, u.id AS agreementId, u.lineage AS lineage,
           u.version AS version, u.kind AS kind, u.indemnityPercent AS percent,
           u.clauses AS clauses, coalesce(team.id, vendor.id) AS partyId
    """
)

# The credits of each remediation summed on it, for aggregations that must not read
# every credit (violationTrends): exact integer minor units of its currency (a stored
# amount "1200.00" holds 120000 minor units of 2 digits), waived ones left out. Run in
# every transaction that writes a credit, after the write.
ROLL_UP_CREDITS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (r:Remediation {key: key})
    OPTIONAL MATCH (r)-[:HAS_CREDIT]->(c:Credit)
    WHERE c.status <> 'WAIVED'
    WITH r, collect(c) AS credits
    SET r.creditCurrency = head([c IN credits | c.currency]),
        r.creditMinor = reduce(total = 0, c IN credits
                               | total + toInteger(replace(c.amount, '.', ''))),
        r.creditDigits = coalesce(head([c IN credits WHERE c.amount CONTAINS '.'
                                        | size(split(c.amount, '.')[1])]), 0)
    """
)

# Migration: the roll-up of remediations written before it existed.
REMEDIATIONS_WITH_CREDITS = Cypher(
    """
    MATCH (r:Remediation)-[:HAS_CREDIT]->(:Credit)
    WHERE r.creditMinor IS NULL
    RETURN DISTINCT r.key AS key
    """
)
