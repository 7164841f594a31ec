"""Schema migrations: idempotent, applied at start-up, recorded in the graph.

Several hub replicas may start at once against one graph: every statement is
``IF NOT EXISTS`` and the ledger is a ``MERGE``, so running twice is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub.graph.client import Graph
from hub.graph.cypher import Cypher
from hub.graph.cypher import actions as acq
from hub.graph.cypher import agreements as agq
from hub.graph.cypher import at_risk as arq
from hub.graph.cypher import audit as aq
from hub.graph.cypher import budget_policies as bpq
from hub.graph.cypher import cases as cq
from hub.graph.cypher import change_requests as chq
from hub.graph.cypher import credits as crq
from hub.graph.cypher import distribution as dq
from hub.graph.cypher import escalations as esq
from hub.graph.cypher import exceptions as xq
from hub.graph.cypher import identity as iq
from hub.graph.cypher import levels as lq
from hub.graph.cypher import notifications as nq
from hub.graph.cypher import objectives as oq
from hub.graph.cypher import periodic_audit as paq
from hub.graph.cypher import remediation as remq
from hub.graph.cypher import reports as rpq
from hub.graph.cypher import reviews as rq
from hub.graph.cypher import schema as q
from hub.graph.cypher import service_reviews as srq
from hub.graph.cypher import telemetry as tq
from hub.graph.ids import utc_now
from hub.graph.repositories.agreements import version_agreements
from hub.graph.repositories.audit import chain_unsequenced_records
from hub.graph.repositories.credits import roll_up_existing_credits
from hub.graph.repositories.identity import assign_token_ids
from hub.graph.repositories.remediation import remediations_for_legacy_violations
from hub.graph.repositories.violations import violations_to_revisions

log = logging.getLogger(__name__)


DataStep = Callable[[Graph], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Migration:
    """Schema statements, then (optionally) a data step: an idempotent function that
    brings existing nodes up to date, for changes that Cypher alone cannot compute (a
    hash, an id)."""

    version: int
    name: str
    statements: tuple[Cypher, ...]
    data: DataStep | None = None


async def _tokens_and_audit_chain(graph: Graph) -> None:
    await assign_token_ids(graph)
    await chain_unsequenced_records(graph)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "keys and lookup indexes",
        (
            q.COMPONENT_ID_UNIQUE,
            q.TEAM_ID_UNIQUE,
            q.VENDOR_ID_UNIQUE,
            q.CUSTOMER_ID_UNIQUE,
            q.AGREEMENT_ID_UNIQUE,
            q.OBJECTIVE_ID_UNIQUE,
            q.EXTERNAL_REF_KEY_UNIQUE,
            q.API_TOKEN_HASH_UNIQUE,
            q.AUDIT_ID_UNIQUE,
            q.MIGRATION_VERSION_UNIQUE,
            q.EXTERNAL_REF_TARGET_INDEX,
            q.COMPONENT_STATUS_INDEX,
            q.COMPONENT_NAME_INDEX,
            q.AGREEMENT_STATUS_INDEX,
            q.AGREEMENT_KIND_INDEX,
            q.AUDIT_TARGET_INDEX,
        ),
    ),
    Migration(2, "multi-label component types", (q.COMPONENT_KIND_TYPES,)),
    Migration(
        3,
        "sync state, runs, leases and quarantine",
        (
            q.SYNC_STATE_UNIQUE,
            q.SYNC_LEASE_UNIQUE,
            q.SYNC_RUN_ID_UNIQUE,
            q.QUARANTINE_KEY_UNIQUE,
            q.EXTERNAL_REF_SOURCE_INDEX,
            q.INCIDENT_KEY_UNIQUE,
            q.INCIDENT_OPENED_INDEX,
        ),
    ),
    Migration(4, "identification attributes", (q.COMPONENT_SERIAL_INDEX, q.COMPONENT_FQDN_INDEX)),
    Migration(5, "service objectives by externalId", (oq.EXTERNAL_REF_EXTERNAL_ID_INDEX,)),
    Migration(
        6,
        "telemetry buckets, discrepancies and violations",
        (
            tq.TELEMETRY_DAY_KEY_UNIQUE,
            tq.TELEMETRY_DAY_INDEX,
            tq.DISCREPANCY_KEY_UNIQUE,
            tq.DISCREPANCY_OBJECTIVE_INDEX,
            tq.VIOLATION_KEY_UNIQUE,
            tq.VIOLATION_ID_UNIQUE,
            tq.VIOLATION_PERIOD_INDEX,
        ),
    ),
    Migration(
        7,
        "token ids and the audit hash chain",
        # Unique sequences are the chain's safety net: ArcadeDB fails the second of two
        # transactions appending after the same record with a constraint violation,
        # which `Graph.write_transaction` retries. Older nodes lack ids and sequences:
        # a uniqueness constraint ignores missing properties, and the data step fills
        # them in.
        (
            iq.API_TOKEN_ID_UNIQUE,
            aq.AUDIT_HEAD_KEY_UNIQUE,
            aq.AUDIT_SEQUENCE_UNIQUE,
            aq.AUDIT_ACTION_INDEX,
        ),
        data=_tokens_and_audit_chain,
    ),
    Migration(
        8,
        "agreement versions",
        # Every version its own node in a lineage; "in force" is read through the
        # lineage (agreementAsOf) and the start (agreements in force at a time). The
        # unique versionKey lets only one of two racing revisions commit.
        (
            agq.AGREEMENT_LINEAGE_INDEX,
            agq.AGREEMENT_EFFECTIVE_FROM_INDEX,
            agq.AGREEMENT_STATE_INDEX,
            agq.AGREEMENT_VERSION_KEY_UNIQUE,
        ),
        data=version_agreements,
    ),
    Migration(
        10,
        "service exceptions",
        (xq.EXCEPTION_ID_UNIQUE, xq.EXCEPTION_KEY_UNIQUE, xq.EXCEPTION_START_INDEX),
    ),
    Migration(
        9,
        "notification outbox",
        (
            nq.NOTIFICATION_ID_UNIQUE,
            nq.NOTIFICATION_STATUS_INDEX,
            nq.NOTIFICATION_DUE_INDEX,
            nq.NOTIFICATION_KIND_INDEX,
            nq.NOTIFICATION_ABOUT_INDEX,
            nq.NOTIFICATION_SORT_KEY_INDEX,
            nq.NOTIFICATION_ATTACHMENT_KEY_UNIQUE,
        ),
    ),
    Migration(
        11,
        "violation revisions in record time",
        # Violations are revised, never overwritten: a node per revision. The unique
        # recordKey allows one current revision per period and backs both lists
        # (`violations`, `violationsAsRecorded`); `key` stays unique per revision.
        (tq.VIOLATION_RECORD_KEY_UNIQUE,),
        data=violations_to_revisions,
    ),
    Migration(
        13,
        "multi-level SLAs",
        # A parent's approval finds its child lineages by parentLineage.
        (lq.AGREEMENT_PARENT_LINEAGE_INDEX,),
    ),
    Migration(
        14,
        "reviews and ticketing cases",
        # The unique subjectKey is what keeps two hub processes from opening two cases
        # for one subject (`hub.graph.cypher.cases`).
        (
            rq.REVIEW_ID_UNIQUE,
            cq.CASE_ID_UNIQUE,
            cq.CASE_SUBJECT_KEY_UNIQUE,
            cq.CASE_STATE_INDEX,
            cq.CASE_SUBJECT_INDEX,
        ),
    ),
    Migration(
        15,
        "remediation of violations",
        # One remediation per violated period (its key); violations recorded before
        # remediation existed get theirs, detected when they were recorded.
        (
            remq.REMEDIATION_ID_UNIQUE,
            remq.REMEDIATION_KEY_UNIQUE,
            remq.REMEDIATION_STATUS_INDEX,
            remq.REMEDIATION_VIOLATION_INDEX,
            remq.EVIDENCE_ID_UNIQUE,
        ),
        data=remediations_for_legacy_violations,
    ),
    Migration(
        16,
        "remediation and reporting records",
        # The unique step key is what keeps two hub processes from escalating one
        # missed step twice (`hub.sync.escalations`).
        (
            crq.CREDIT_ID_UNIQUE,
            acq.ACTION_ID_UNIQUE,
            acq.ACTION_SUBJECT_INDEX,
            acq.ACTION_STATUS_INDEX,
            esq.ESCALATION_STEP_UNIQUE,
            esq.ESCALATION_SUBJECT_INDEX,
            srq.SERVICE_REVIEW_ID_UNIQUE,
            paq.AUDIT_REPORT_ID_UNIQUE,
            paq.AUDIT_REPORT_PERIOD_INDEX,
            chq.CHANGE_REQUEST_ID_UNIQUE,
            dq.DISTRIBUTION_LIST_ID_UNIQUE,
            dq.DISTRIBUTION_RUN_KEY_UNIQUE,
            dq.DISTRIBUTION_RUN_LIST_INDEX,
            dq.REPORT_ANOMALY_KEY_UNIQUE,
            dq.REPORT_ANOMALY_PERIOD_INDEX,
            # A finished month of an objective is summed from its telemetry days.
            rpq.REPORT_TELEMETRY_DAY_OBJECTIVE_INDEX,
            rpq.REPORT_SNAPSHOT_ID_UNIQUE,
            rpq.REPORT_SNAPSHOT_SEQUENCE_INDEX,
            rpq.REPORT_FILE_KEY_UNIQUE,
            rpq.REPORT_FILE_SNAPSHOT_INDEX,
            rpq.REPORT_COMMENT_ID_UNIQUE,
            rpq.REPORT_COMMENT_SERVICE_INDEX,
            rpq.REPORT_SNAPSHOT_HEAD_KEY_UNIQUE,
        ),
    ),
    Migration(
        17,
        "credit sums on remediations",
        # violationTrends sums the credits each remediation keeps, not every credit.
        (),
        data=roll_up_existing_credits,
    ),
    Migration(
        18,
        "error-budget policies",
        # Unique keys keep a retried or concurrent run from taking one action twice
        # (`hub.sync.budget_policies`).
        (
            bpq.BUDGET_EPISODE_KEY_UNIQUE,
            bpq.BUDGET_EPISODE_OBJECTIVE_INDEX,
            bpq.POLICY_ACTION_KEY_UNIQUE,
            bpq.POLICY_ACTION_OBJECTIVE_INDEX,
            bpq.CHANGE_FREEZE_KEY_UNIQUE,
            bpq.CHANGE_FREEZE_OBJECTIVE_INDEX,
        ),
    ),
    Migration(
        19,
        "at-risk escalations",
        # The unique episode key (objective and sequence number) keeps one episode per
        # objective open; steps are `Escalation` records, unique by step key since
        # migration 16 (`hub.sync.at_risk`).
        (
            arq.AT_RISK_ESCALATION_ID_UNIQUE,
            arq.AT_RISK_ESCALATION_KEY_UNIQUE,
            arq.AT_RISK_ESCALATION_STATUS_INDEX,
        ),
    ),
    Migration(20, "sync runs by connector", (q.SYNC_RUN_CONNECTOR_INDEX,)),
)

LATEST_VERSION = MIGRATIONS[-1].version


async def applied_versions(graph: Graph) -> set[int]:
    return {int(row["version"]) for row in await graph.read(q.APPLIED_MIGRATIONS)}


async def migrate(graph: Graph) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now."""
    done = await applied_versions(graph)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        # Schema statements each run in their own transaction: Neo4j refuses to mix
        # schema and data changes in one.
        for statement in migration.statements:
            await graph.write(statement)
        if migration.data is not None:
            await migration.data(graph)
        await graph.write(
            q.RECORD_MIGRATION,
            version=migration.version,
            name=migration.name,
            appliedAt=utc_now(),
        )
        log.info("applied graph migration %d (%s)", migration.version, migration.name)
        applied.append(migration.version)
    return applied


async def is_current(graph: Graph) -> bool:
    return LATEST_VERSION in await applied_versions(graph)
