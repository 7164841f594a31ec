"""What a backup knows how to copy: each label set the hub writes, the property its
nodes are keyed by, and each relationship type with the labels of its ends.

The hub's labels are a fixed set, and Cypher takes no label or type as a parameter, so
each entry names its own statements (`hub.graph.cypher.backup`). A graph holding a
label set or a relationship that is not listed here is refused by name: a backup that
silently left something out would be found wanting only on the day it is needed. A
new label or relationship type in `hub/graph/cypher/` must be added here too
(`tests/graph/test_backup.py` checks that every one is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.graph.cypher import Cypher
from hub.graph.cypher import at_risk as arq
from hub.graph.cypher import backup as q
from hub.graph.cypher import budget_policies as bpq
from hub.graph.cypher import distribution as dq

LabelSet = tuple[str, ...]
"""A node's labels, sorted: `("Component", "Service")`."""


def label_set(labels: Iterable[str]) -> LabelSet:
    return tuple(sorted(labels))


def describe(labels: LabelSet) -> str:
    return ":".join(labels)


@dataclass(frozen=True, slots=True)
class KeyLabel:
    """A label whose nodes have a unique key property, and how to read them all out."""

    label: str
    key: str
    nodes: Cypher
    outgoing: Cypher | None = None


@dataclass(frozen=True, slots=True)
class NodeKind:
    """One label set the hub writes, keyed by `key_label`, written back by `write`."""

    labels: LabelSet
    key_label: str
    write: Cypher


@dataclass(frozen=True, slots=True)
class RelationshipKind:
    """One relationship type between nodes of two key labels, written back by `write`."""

    type: str
    from_label: str
    to_label: str
    write: Cypher

    @property
    def name(self) -> str:
        return f"(:{self.from_label})-[:{self.type}]->(:{self.to_label})"


KEY_LABELS: Sequence[KeyLabel] = (
    # Read in this order: what relationships point to comes before what points to it,
    # which keeps the restore's progress easy to follow (nothing depends on it).
    KeyLabel("Migration", "version", q.NODES_MIGRATION),
    KeyLabel("Team", "id", q.NODES_TEAM),
    KeyLabel("Vendor", "id", q.NODES_VENDOR),
    KeyLabel("Customer", "id", q.NODES_CUSTOMER),
    KeyLabel("Component", "id", q.NODES_COMPONENT, q.OUT_OF_COMPONENT),
    KeyLabel("ExternalRef", "key", q.NODES_EXTERNAL_REF, q.OUT_OF_EXTERNAL_REF),
    KeyLabel("Objective", "id", q.NODES_OBJECTIVE),
    KeyLabel("Agreement", "id", q.NODES_AGREEMENT, q.OUT_OF_AGREEMENT),
    KeyLabel("Violation", "key", q.NODES_VIOLATION, q.OUT_OF_VIOLATION),
    KeyLabel("Incident", "key", q.NODES_INCIDENT, q.OUT_OF_INCIDENT),
    KeyLabel("TelemetryDay", "key", q.NODES_TELEMETRY_DAY),
    KeyLabel("TelemetryDiscrepancy", "key", q.NODES_TELEMETRY_DISCREPANCY),
    KeyLabel("ApiToken", "hash", q.NODES_API_TOKEN),
    KeyLabel("AuditRecord", "id", q.NODES_AUDIT_RECORD),
    KeyLabel("AuditHead", "key", q.NODES_AUDIT_HEAD),
    KeyLabel("SyncState", "connector", q.NODES_SYNC_STATE),
    KeyLabel("SyncLease", "connector", q.NODES_SYNC_LEASE),
    KeyLabel("SyncRun", "id", q.NODES_SYNC_RUN),
    KeyLabel("QuarantinedRecord", "key", q.NODES_QUARANTINED_RECORD),
    KeyLabel("ServiceException", "id", q.NODES_SERVICE_EXCEPTION, q.OUT_OF_SERVICE_EXCEPTION),
    KeyLabel("Notification", "id", q.NODES_NOTIFICATION),
    KeyLabel("NotificationAttachment", "key", q.NODES_NOTIFICATION_ATTACHMENT),
    KeyLabel("Review", "id", q.NODES_REVIEW, q.OUT_OF_REVIEW),
    KeyLabel("Case", "id", q.NODES_CASE),
    KeyLabel("ReportSnapshot", "id", q.NODES_REPORT_SNAPSHOT),
    KeyLabel("ReportSnapshotHead", "key", q.NODES_REPORT_SNAPSHOT_HEAD),
    KeyLabel("ReportFile", "key", q.NODES_REPORT_FILE),
    KeyLabel("ReportComment", "id", q.NODES_REPORT_COMMENT),
    KeyLabel("Remediation", "id", q.NODES_REMEDIATION, q.OUT_OF_REMEDIATION),
    KeyLabel("Evidence", "id", q.NODES_EVIDENCE),
    KeyLabel("Credit", "id", q.NODES_CREDIT, q.OUT_OF_CREDIT),
    KeyLabel("Action", "id", q.NODES_ACTION),
    KeyLabel("Escalation", "id", q.NODES_ESCALATION),
    KeyLabel("ServiceReview", "id", q.NODES_SERVICE_REVIEW, q.OUT_OF_SERVICE_REVIEW),
    KeyLabel("AuditReport", "id", q.NODES_AUDIT_REPORT, q.OUT_OF_AUDIT_REPORT),
    KeyLabel("AuditReportHead", "key", q.NODES_AUDIT_REPORT_HEAD),
    KeyLabel("ChangeRequest", "id", q.NODES_CHANGE_REQUEST, q.OUT_OF_CHANGE_REQUEST),
    KeyLabel("DistributionList", "id", dq.NODES_DISTRIBUTION_LIST),
    KeyLabel("DistributionRun", "key", dq.NODES_DISTRIBUTION_RUN),
    KeyLabel("ReportAnomaly", "key", dq.NODES_REPORT_ANOMALY),
    KeyLabel("BudgetEpisode", "key", bpq.NODES_BUDGET_EPISODE),
    KeyLabel("PolicyAction", "key", bpq.NODES_POLICY_ACTION),
    KeyLabel("ChangeFreeze", "key", bpq.NODES_CHANGE_FREEZE),
    KeyLabel("AtRiskEscalation", "id", arq.NODES_AT_RISK_ESCALATION, arq.OUT_OF_AT_RISK_ESCALATION),
)
KEY_LABEL_BY_NAME = {k.label: k for k in KEY_LABELS}

NODE_KINDS: Sequence[NodeKind] = (
    NodeKind(("Component", "Service"), "Component", q.RESTORE_SERVICES),
    NodeKind(("Component", "ConfigurationItem"), "Component", q.RESTORE_CONFIGURATION_ITEMS),
    NodeKind(("Team",), "Team", q.RESTORE_TEAMS),
    NodeKind(("Vendor",), "Vendor", q.RESTORE_VENDORS),
    NodeKind(("Customer",), "Customer", q.RESTORE_CUSTOMERS),
    NodeKind(("ExternalRef",), "ExternalRef", q.RESTORE_EXTERNAL_REFS),
    NodeKind(("Agreement",), "Agreement", q.RESTORE_AGREEMENTS),
    NodeKind(("Objective",), "Objective", q.RESTORE_OBJECTIVES),
    NodeKind(("TelemetryDay",), "TelemetryDay", q.RESTORE_TELEMETRY_DAYS),
    NodeKind(("TelemetryDiscrepancy",), "TelemetryDiscrepancy", q.RESTORE_TELEMETRY_DISCREPANCIES),
    NodeKind(("Violation",), "Violation", q.RESTORE_VIOLATIONS),
    NodeKind(("Incident",), "Incident", q.RESTORE_INCIDENTS),
    NodeKind(("ApiToken",), "ApiToken", q.RESTORE_API_TOKENS),
    NodeKind(("AuditRecord",), "AuditRecord", q.RESTORE_AUDIT_RECORDS),
    NodeKind(("AuditHead",), "AuditHead", q.RESTORE_AUDIT_HEADS),
    NodeKind(("SyncState",), "SyncState", q.RESTORE_SYNC_STATES),
    NodeKind(("SyncLease",), "SyncLease", q.RESTORE_SYNC_LEASES),
    NodeKind(("SyncRun",), "SyncRun", q.RESTORE_SYNC_RUNS),
    NodeKind(("QuarantinedRecord",), "QuarantinedRecord", q.RESTORE_QUARANTINED_RECORDS),
    NodeKind(("Migration",), "Migration", q.RESTORE_MIGRATIONS),
    NodeKind(("ServiceException",), "ServiceException", q.RESTORE_SERVICE_EXCEPTIONS),
    NodeKind(("Notification",), "Notification", q.RESTORE_NOTIFICATIONS),
    NodeKind(
        ("NotificationAttachment",),
        "NotificationAttachment",
        q.RESTORE_NOTIFICATION_ATTACHMENTS,
    ),
    NodeKind(("Review",), "Review", q.RESTORE_REVIEWS),
    NodeKind(("Case",), "Case", q.RESTORE_CASES),
    NodeKind(("ReportSnapshot",), "ReportSnapshot", q.RESTORE_REPORT_SNAPSHOTS),
    NodeKind(("ReportSnapshotHead",), "ReportSnapshotHead", q.RESTORE_REPORT_SNAPSHOT_HEADS),
    NodeKind(("ReportFile",), "ReportFile", q.RESTORE_REPORT_FILES),
    NodeKind(("ReportComment",), "ReportComment", q.RESTORE_REPORT_COMMENTS),
    NodeKind(("Remediation",), "Remediation", q.RESTORE_REMEDIATIONS),
    NodeKind(("Evidence",), "Evidence", q.RESTORE_EVIDENCE),
    NodeKind(("Credit",), "Credit", q.RESTORE_CREDITS),
    NodeKind(("Action",), "Action", q.RESTORE_ACTIONS),
    NodeKind(("Escalation",), "Escalation", q.RESTORE_ESCALATIONS),
    NodeKind(("ServiceReview",), "ServiceReview", q.RESTORE_SERVICE_REVIEWS),
    NodeKind(("AuditReport",), "AuditReport", q.RESTORE_AUDIT_REPORTS),
    NodeKind(("AuditReportHead",), "AuditReportHead", q.RESTORE_AUDIT_REPORT_HEADS),
    NodeKind(("ChangeRequest",), "ChangeRequest", q.RESTORE_CHANGE_REQUESTS),
    NodeKind(("DistributionList",), "DistributionList", dq.RESTORE_DISTRIBUTION_LISTS),
    NodeKind(("DistributionRun",), "DistributionRun", dq.RESTORE_DISTRIBUTION_RUNS),
    NodeKind(("ReportAnomaly",), "ReportAnomaly", dq.RESTORE_REPORT_ANOMALIES),
    NodeKind(("BudgetEpisode",), "BudgetEpisode", bpq.RESTORE_BUDGET_EPISODES),
    NodeKind(("PolicyAction",), "PolicyAction", bpq.RESTORE_POLICY_ACTIONS),
    NodeKind(("ChangeFreeze",), "ChangeFreeze", bpq.RESTORE_CHANGE_FREEZES),
    NodeKind(("AtRiskEscalation",), "AtRiskEscalation", arq.RESTORE_AT_RISK_ESCALATIONS),
)
NODE_KIND_BY_LABELS = {k.labels: k for k in NODE_KINDS}

RELATIONSHIP_KINDS: Sequence[RelationshipKind] = (
    RelationshipKind("REFERS_TO", "ExternalRef", "Component", q.RESTORE_REFERS_TO_COMPONENT),
    RelationshipKind("REFERS_TO", "ExternalRef", "Team", q.RESTORE_REFERS_TO_TEAM),
    RelationshipKind("REFERS_TO", "ExternalRef", "Vendor", q.RESTORE_REFERS_TO_VENDOR),
    RelationshipKind("REFERS_TO", "ExternalRef", "Customer", q.RESTORE_REFERS_TO_CUSTOMER),
    RelationshipKind("DEPENDS_ON", "Component", "Component", q.RESTORE_DEPENDS_ON),
    RelationshipKind("RELATES_TO", "Component", "Component", q.RESTORE_RELATES_TO),
    RelationshipKind("OWNED_BY", "Component", "Team", q.RESTORE_OWNED_BY),
    RelationshipKind("HAS_OBJECTIVE", "Component", "Objective", q.RESTORE_SERVICE_HAS_OBJECTIVE),
    RelationshipKind("HAS_OBJECTIVE", "Agreement", "Objective", q.RESTORE_AGREEMENT_HAS_OBJECTIVE),
    RelationshipKind("COVERS", "Agreement", "Component", q.RESTORE_COVERS),
    RelationshipKind("FOR_CUSTOMER", "Agreement", "Customer", q.RESTORE_FOR_CUSTOMER),
    RelationshipKind("PROVIDED_BY", "Agreement", "Team", q.RESTORE_PROVIDED_BY),
    RelationshipKind("WITH_VENDOR", "Agreement", "Vendor", q.RESTORE_WITH_VENDOR),
    RelationshipKind("UNDERPINS", "Agreement", "Agreement", q.RESTORE_UNDERPINS),
    RelationshipKind("PREVIOUS_VERSION", "Agreement", "Agreement", q.RESTORE_PREVIOUS_VERSION),
    RelationshipKind("HAS_VIOLATION", "Agreement", "Violation", q.RESTORE_HAS_VIOLATION),
    RelationshipKind("OF_OBJECTIVE", "Violation", "Objective", q.RESTORE_OF_OBJECTIVE),
    RelationshipKind("AFFECTS", "Incident", "Component", q.RESTORE_AFFECTS),
    RelationshipKind("EXCUSES", "ServiceException", "Component", q.RESTORE_EXCUSES),
    RelationshipKind("REVIEWS", "Review", "Agreement", q.RESTORE_REVIEWS_REL),
    RelationshipKind("HAS_REMEDIATION", "Agreement", "Remediation", q.RESTORE_HAS_REMEDIATION),
    RelationshipKind("HAS_EVIDENCE", "Remediation", "Evidence", q.RESTORE_HAS_EVIDENCE),
    RelationshipKind("PROPOSED_REVISION", "Remediation", "Agreement", q.RESTORE_PROPOSED_REVISION),
    RelationshipKind("HAS_CREDIT", "Remediation", "Credit", q.RESTORE_HAS_CREDIT),
    RelationshipKind("CORRECTS", "Credit", "Credit", q.RESTORE_CREDIT_CORRECTS),
    RelationshipKind("CORRECTS", "AuditReport", "AuditReport", q.RESTORE_AUDIT_REPORT_CORRECTS),
    RelationshipKind("HAS_ACTION", "Remediation", "Action", q.RESTORE_REMEDIATION_HAS_ACTION),
    RelationshipKind("HAS_ACTION", "ServiceReview", "Action", q.RESTORE_SERVICE_REVIEW_HAS_ACTION),
    RelationshipKind("HAS_ACTION", "Agreement", "Action", q.RESTORE_AGREEMENT_HAS_ACTION),
    RelationshipKind("ESCALATED", "Remediation", "Escalation", q.RESTORE_REMEDIATION_ESCALATED),
    RelationshipKind(
        "ESCALATED", "ServiceReview", "Escalation", q.RESTORE_SERVICE_REVIEW_ESCALATED
    ),
    RelationshipKind("ESCALATED", "Agreement", "Escalation", q.RESTORE_AGREEMENT_ESCALATED),
    RelationshipKind("ESCALATED", "AtRiskEscalation", "Escalation", arq.RESTORE_AT_RISK_ESCALATED),
    RelationshipKind(
        "OF_OBJECTIVE", "AtRiskEscalation", "Objective", arq.RESTORE_AT_RISK_OF_OBJECTIVE
    ),
    RelationshipKind(
        "HAS_SERVICE_REVIEW", "Agreement", "ServiceReview", q.RESTORE_HAS_SERVICE_REVIEW
    ),
    RelationshipKind("ABOUT", "ChangeRequest", "Agreement", q.RESTORE_CHANGE_REQUEST_ABOUT),
    RelationshipKind("OPENED", "ChangeRequest", "Agreement", q.RESTORE_CHANGE_REQUEST_OPENED),
)
RELATIONSHIP_KIND_BY_NAME = {(k.type, k.from_label, k.to_label): k for k in RELATIONSHIP_KINDS}


def key_label_of(labels: Iterable[str]) -> str | None:
    """The key label of a node with these labels, or None if the hub writes no such node."""
    kind = NODE_KIND_BY_LABELS.get(label_set(labels))
    return None if kind is None else kind.key_label
