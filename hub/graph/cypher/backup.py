"""Backup and restore: a census of the graph, every node and relationship read out, and
the same written back in batches (`hub.graph.backup`).

Labels and relationship types cannot be parameters, so there is one statement per
label the hub keys its nodes by (reading), per label set (writing nodes) and per
relationship type with the labels of its ends (writing relationships). The tables in
`hub.graph.backup.kinds` say which is which; a node or relationship that fits none is
refused by name before anything is written.

Nodes are read out whole (`properties(n)`, byte arrays included) and written back by
their key, so that a relationship names its ends by their keys, never by element ids,
which differ from one graph to the next. Writes are `MERGE`s (or a look-up before a
`CREATE`, for the two-label components, as in `components.py`): a managed transaction
may run twice.
"""

from hub.graph.cypher import Cypher

# ---- census -----------------------------------------------------------------------------

NODE_CENSUS = Cypher("MATCH (n) RETURN labels(n) AS labels, count(*) AS count")

RELATIONSHIP_CENSUS = Cypher(
    """
    MATCH (a)-[r]->(b)
    RETURN labels(a) AS fromLabels, type(r) AS type, labels(b) AS toLabels, count(*) AS count
    """
)

# A graph holding nothing but what the migrations write into an empty graph (the
# ledger, the audit chain's head before any record) is empty: a restore may go there.
FIRST_DATA_NODE = Cypher(
    """
    MATCH (n)
    WHERE NOT n:Migration AND NOT (n:AuditHead AND n.sequence = 0)
    RETURN labels(n) AS labels
    LIMIT 1
    """
)

# ---- reading nodes, one statement per key label ---------------------------------------

NODES_COMPONENT = Cypher("MATCH (n:Component) RETURN labels(n) AS labels, properties(n) AS props")
NODES_TEAM = Cypher("MATCH (n:Team) RETURN labels(n) AS labels, properties(n) AS props")
NODES_VENDOR = Cypher("MATCH (n:Vendor) RETURN labels(n) AS labels, properties(n) AS props")
NODES_CUSTOMER = Cypher("MATCH (n:Customer) RETURN labels(n) AS labels, properties(n) AS props")
NODES_EXTERNAL_REF = Cypher(
    "MATCH (n:ExternalRef) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_AGREEMENT = Cypher("MATCH (n:Agreement) RETURN labels(n) AS labels, properties(n) AS props")
NODES_OBJECTIVE = Cypher("MATCH (n:Objective) RETURN labels(n) AS labels, properties(n) AS props")
NODES_TELEMETRY_DAY = Cypher(
    "MATCH (n:TelemetryDay) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_TELEMETRY_DISCREPANCY = Cypher(
    "MATCH (n:TelemetryDiscrepancy) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_VIOLATION = Cypher("MATCH (n:Violation) RETURN labels(n) AS labels, properties(n) AS props")
NODES_INCIDENT = Cypher("MATCH (n:Incident) RETURN labels(n) AS labels, properties(n) AS props")
NODES_API_TOKEN = Cypher("MATCH (n:ApiToken) RETURN labels(n) AS labels, properties(n) AS props")
NODES_AUDIT_RECORD = Cypher(
    "MATCH (n:AuditRecord) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_AUDIT_HEAD = Cypher("MATCH (n:AuditHead) RETURN labels(n) AS labels, properties(n) AS props")
NODES_SYNC_STATE = Cypher("MATCH (n:SyncState) RETURN labels(n) AS labels, properties(n) AS props")
NODES_SYNC_LEASE = Cypher("MATCH (n:SyncLease) RETURN labels(n) AS labels, properties(n) AS props")
NODES_SYNC_RUN = Cypher("MATCH (n:SyncRun) RETURN labels(n) AS labels, properties(n) AS props")
NODES_QUARANTINED_RECORD = Cypher(
    "MATCH (n:QuarantinedRecord) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_MIGRATION = Cypher("MATCH (n:Migration) RETURN labels(n) AS labels, properties(n) AS props")

# ---- reading relationships, one statement per label they start from --------------------
# The far end is named by its key: `id` for most labels, `key` for some (the tables say
# which); both are returned and the reader keeps the one the end's label is keyed by.

OUT_OF_COMPONENT = Cypher(
    """
    MATCH (a:Component)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
OUT_OF_EXTERNAL_REF = Cypher(
    """
    MATCH (a:ExternalRef)-[r]->(b)
    RETURN a.key AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
OUT_OF_AGREEMENT = Cypher(
    """
    MATCH (a:Agreement)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
OUT_OF_VIOLATION = Cypher(
    """
    MATCH (a:Violation)-[r]->(b)
    RETURN a.key AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
OUT_OF_INCIDENT = Cypher(
    """
    MATCH (a:Incident)-[r]->(b)
    RETURN a.key AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)

# ---- writing nodes, one statement per label set ----------------------------------------
# Each row: key (the value of the label's key property) and props (every property).
# Each statement returns how many rows it wrote, so that nothing goes missing unseen.

# A MERGE on two labels is not index-backed on ArcadeDB (components.py): look up on
# `Component` alone, create with both labels when missing.
RESTORE_SERVICES = Cypher(
    """
    UNWIND $rows AS row
    OPTIONAL MATCH (existing:Component {id: row.key})
    WITH row, existing
    FOREACH (_ IN CASE WHEN existing IS NULL THEN [1] ELSE [] END |
      CREATE (n:Component:Service)
      SET n += row.props
    )
    RETURN count(*) AS written
    """
)
RESTORE_CONFIGURATION_ITEMS = Cypher(
    """
    UNWIND $rows AS row
    OPTIONAL MATCH (existing:Component {id: row.key})
    WITH row, existing
    FOREACH (_ IN CASE WHEN existing IS NULL THEN [1] ELSE [] END |
      CREATE (n:Component:ConfigurationItem)
      SET n += row.props
    )
    RETURN count(*) AS written
    """
)
RESTORE_TEAMS = Cypher(
    "UNWIND $rows AS row MERGE (n:Team {id: row.key}) SET n += row.props RETURN count(*) AS written"
)
RESTORE_VENDORS = Cypher(
    "UNWIND $rows AS row MERGE (n:Vendor {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_CUSTOMERS = Cypher(
    "UNWIND $rows AS row MERGE (n:Customer {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_EXTERNAL_REFS = Cypher(
    "UNWIND $rows AS row MERGE (n:ExternalRef {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_AGREEMENTS = Cypher(
    "UNWIND $rows AS row MERGE (n:Agreement {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_OBJECTIVES = Cypher(
    "UNWIND $rows AS row MERGE (n:Objective {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_TELEMETRY_DAYS = Cypher(
    "UNWIND $rows AS row MERGE (n:TelemetryDay {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_TELEMETRY_DISCREPANCIES = Cypher(
    "UNWIND $rows AS row MERGE (n:TelemetryDiscrepancy {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_VIOLATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Violation {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_INCIDENTS = Cypher(
    "UNWIND $rows AS row MERGE (n:Incident {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_API_TOKENS = Cypher(
    "UNWIND $rows AS row MERGE (n:ApiToken {hash: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_AUDIT_RECORDS = Cypher(
    "UNWIND $rows AS row MERGE (n:AuditRecord {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_AUDIT_HEADS = Cypher(
    "UNWIND $rows AS row MERGE (n:AuditHead {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_SYNC_STATES = Cypher(
    "UNWIND $rows AS row MERGE (n:SyncState {connector: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_SYNC_LEASES = Cypher(
    "UNWIND $rows AS row MERGE (n:SyncLease {connector: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_SYNC_RUNS = Cypher(
    "UNWIND $rows AS row MERGE (n:SyncRun {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_QUARANTINED_RECORDS = Cypher(
    "UNWIND $rows AS row MERGE (n:QuarantinedRecord {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
# The restored ledger says when each migration was first applied, not when the restore ran.
RESTORE_MIGRATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Migration {version: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)

# ---- writing relationships, one statement per type and end labels ----------------------
# Each row: from and to (the keys of the ends) and props. A row whose ends are missing
# writes nothing and is not counted.

RESTORE_REFERS_TO_COMPONENT = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ExternalRef {key: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:REFERS_TO]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_REFERS_TO_TEAM = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ExternalRef {key: row.from})
    MATCH (b:Team {id: row.to})
    MERGE (a)-[r:REFERS_TO]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_REFERS_TO_VENDOR = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ExternalRef {key: row.from})
    MATCH (b:Vendor {id: row.to})
    MERGE (a)-[r:REFERS_TO]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_REFERS_TO_CUSTOMER = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ExternalRef {key: row.from})
    MATCH (b:Customer {id: row.to})
    MERGE (a)-[r:REFERS_TO]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_DEPENDS_ON = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Component {id: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:DEPENDS_ON]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
# One RELATES_TO per pair and `type`, as the sync writes them (sync.py).
RESTORE_RELATES_TO = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Component {id: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:RELATES_TO {type: row.props.type}]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_OWNED_BY = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Component {id: row.from})
    MATCH (b:Team {id: row.to})
    MERGE (a)-[r:OWNED_BY]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_SERVICE_HAS_OBJECTIVE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Component {id: row.from})
    MATCH (b:Objective {id: row.to})
    MERGE (a)-[r:HAS_OBJECTIVE]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AGREEMENT_HAS_OBJECTIVE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Objective {id: row.to})
    MERGE (a)-[r:HAS_OBJECTIVE]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_COVERS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:COVERS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_FOR_CUSTOMER = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Customer {id: row.to})
    MERGE (a)-[r:FOR_CUSTOMER]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_PROVIDED_BY = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Team {id: row.to})
    MERGE (a)-[r:PROVIDED_BY]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_WITH_VENDOR = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Vendor {id: row.to})
    MERGE (a)-[r:WITH_VENDOR]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_UNDERPINS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:UNDERPINS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_PREVIOUS_VERSION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:PREVIOUS_VERSION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)

RESTORE_HAS_VIOLATION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Violation {key: row.to})
    MERGE (a)-[r:HAS_VIOLATION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_OF_OBJECTIVE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Violation {key: row.from})
    MATCH (b:Objective {id: row.to})
    MERGE (a)-[r:OF_OBJECTIVE]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AFFECTS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Incident {key: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:AFFECTS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)

# ---- after the load ----------------------------------------------------------------------

# The restored ledger is the backup's: entries the empty graph's migrations recorded
# before the load go, so that migrations newer than the backup then run on its data.
FORGET_MIGRATIONS = Cypher(
    """
    MATCH (m:Migration)
    WHERE NOT m.version IN $keep
    DELETE m
    RETURN count(*) AS forgotten
    """
)

# ---- service exceptions (hub.graph.cypher.exceptions) ------------------------------------

NODES_SERVICE_EXCEPTION = Cypher(
    "MATCH (n:ServiceException) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_SERVICE_EXCEPTION = Cypher(
    """
    MATCH (a:ServiceException)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_SERVICE_EXCEPTIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:ServiceException {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_EXCUSES = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ServiceException {id: row.from})
    MATCH (b:Component {id: row.to})
    MERGE (a)-[r:EXCUSES]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)

# ---- the notification outbox (hub.graph.cypher.notifications) ---------------------------

NODES_NOTIFICATION = Cypher(
    "MATCH (n:Notification) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_NOTIFICATION_ATTACHMENT = Cypher(
    "MATCH (n:NotificationAttachment) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_NOTIFICATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Notification {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_NOTIFICATION_ATTACHMENTS = Cypher(
    "UNWIND $rows AS row MERGE (n:NotificationAttachment {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)

# ---- reviews and ticketing cases (hub.graph.cypher.reviews, hub.graph.cypher.cases) ----

NODES_REVIEW = Cypher("MATCH (n:Review) RETURN labels(n) AS labels, properties(n) AS props")
OUT_OF_REVIEW = Cypher(
    """
    MATCH (a:Review)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_REVIEWS = Cypher(
    "UNWIND $rows AS row MERGE (n:Review {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_REVIEWS_REL = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Review {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:REVIEWS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
NODES_CASE = Cypher("MATCH (n:Case) RETURN labels(n) AS labels, properties(n) AS props")
RESTORE_CASES = Cypher(
    "UNWIND $rows AS row MERGE (n:Case {id: row.key}) SET n += row.props RETURN count(*) AS written"
)

# Compliance reports (hub/graph/cypher/reports.py): published snapshots, their files,
# the chain's head, and report commentary. Nodes only: a snapshot names what it
# corrects and a comment its service by id.
NODES_REPORT_SNAPSHOT = Cypher(
    "MATCH (n:ReportSnapshot) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_REPORT_SNAPSHOT_HEAD = Cypher(
    "MATCH (n:ReportSnapshotHead) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_REPORT_FILE = Cypher(
    "MATCH (n:ReportFile) RETURN labels(n) AS labels, properties(n) AS props"
)
NODES_REPORT_COMMENT = Cypher(
    "MATCH (n:ReportComment) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_REPORT_SNAPSHOTS = Cypher(
    "UNWIND $rows AS row MERGE (n:ReportSnapshot {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_REPORT_SNAPSHOT_HEADS = Cypher(
    "UNWIND $rows AS row MERGE (n:ReportSnapshotHead {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_REPORT_FILES = Cypher(
    "UNWIND $rows AS row MERGE (n:ReportFile {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_REPORT_COMMENTS = Cypher(
    "UNWIND $rows AS row MERGE (n:ReportComment {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)

# ---- remediation (docs/remediation.md) ----------------------------------------------
NODES_REMEDIATION = Cypher(
    "MATCH (n:Remediation) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_REMEDIATION = Cypher(
    """
    MATCH (a:Remediation)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_REMEDIATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Remediation {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_EVIDENCE = Cypher("MATCH (n:Evidence) RETURN labels(n) AS labels, properties(n) AS props")
RESTORE_EVIDENCE = Cypher(
    "UNWIND $rows AS row MERGE (n:Evidence {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_CREDIT = Cypher("MATCH (n:Credit) RETURN labels(n) AS labels, properties(n) AS props")
OUT_OF_CREDIT = Cypher(
    """
    MATCH (a:Credit)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_CREDITS = Cypher(
    "UNWIND $rows AS row MERGE (n:Credit {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_ACTION = Cypher("MATCH (n:Action) RETURN labels(n) AS labels, properties(n) AS props")
RESTORE_ACTIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Action {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_ESCALATION = Cypher("MATCH (n:Escalation) RETURN labels(n) AS labels, properties(n) AS props")
RESTORE_ESCALATIONS = Cypher(
    "UNWIND $rows AS row MERGE (n:Escalation {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_SERVICE_REVIEW = Cypher(
    "MATCH (n:ServiceReview) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_SERVICE_REVIEW = Cypher(
    """
    MATCH (a:ServiceReview)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_SERVICE_REVIEWS = Cypher(
    "UNWIND $rows AS row MERGE (n:ServiceReview {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_AUDIT_REPORT = Cypher(
    "MATCH (n:AuditReport) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_AUDIT_REPORT = Cypher(
    """
    MATCH (a:AuditReport)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_AUDIT_REPORTS = Cypher(
    "UNWIND $rows AS row MERGE (n:AuditReport {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
NODES_AUDIT_REPORT_HEAD = Cypher(
    "MATCH (n:AuditReportHead) RETURN labels(n) AS labels, properties(n) AS props"
)
RESTORE_AUDIT_REPORT_HEADS = Cypher(
    "UNWIND $rows AS row MERGE (n:AuditReportHead {key: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_HAS_REMEDIATION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Remediation {id: row.to})
    MERGE (a)-[r:HAS_REMEDIATION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_HAS_EVIDENCE = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Remediation {id: row.from})
    MATCH (b:Evidence {id: row.to})
    MERGE (a)-[r:HAS_EVIDENCE]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_PROPOSED_REVISION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Remediation {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:PROPOSED_REVISION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_HAS_CREDIT = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Remediation {id: row.from})
    MATCH (b:Credit {id: row.to})
    MERGE (a)-[r:HAS_CREDIT]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_CREDIT_CORRECTS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Credit {id: row.from})
    MATCH (b:Credit {id: row.to})
    MERGE (a)-[r:CORRECTS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AUDIT_REPORT_CORRECTS = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:AuditReport {id: row.from})
    MATCH (b:AuditReport {id: row.to})
    MERGE (a)-[r:CORRECTS]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_REMEDIATION_HAS_ACTION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Remediation {id: row.from})
    MATCH (b:Action {id: row.to})
    MERGE (a)-[r:HAS_ACTION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_SERVICE_REVIEW_HAS_ACTION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ServiceReview {id: row.from})
    MATCH (b:Action {id: row.to})
    MERGE (a)-[r:HAS_ACTION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AGREEMENT_HAS_ACTION = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Action {id: row.to})
    MERGE (a)-[r:HAS_ACTION]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_REMEDIATION_ESCALATED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Remediation {id: row.from})
    MATCH (b:Escalation {id: row.to})
    MERGE (a)-[r:ESCALATED]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_SERVICE_REVIEW_ESCALATED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ServiceReview {id: row.from})
    MATCH (b:Escalation {id: row.to})
    MERGE (a)-[r:ESCALATED]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_AGREEMENT_ESCALATED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:Escalation {id: row.to})
    MERGE (a)-[r:ESCALATED]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_HAS_SERVICE_REVIEW = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:Agreement {id: row.from})
    MATCH (b:ServiceReview {id: row.to})
    MERGE (a)-[r:HAS_SERVICE_REVIEW]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
NODES_CHANGE_REQUEST = Cypher(
    "MATCH (n:ChangeRequest) RETURN labels(n) AS labels, properties(n) AS props"
)
OUT_OF_CHANGE_REQUEST = Cypher(
    """
    MATCH (a:ChangeRequest)-[r]->(b)
    RETURN a.id AS from, type(r) AS type, labels(b) AS toLabels, b.id AS toId, b.key AS toKey,
           properties(r) AS props
    """
)
RESTORE_CHANGE_REQUESTS = Cypher(
    "UNWIND $rows AS row MERGE (n:ChangeRequest {id: row.key}) SET n += row.props "
    "RETURN count(*) AS written"
)
RESTORE_CHANGE_REQUEST_ABOUT = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ChangeRequest {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:ABOUT]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
RESTORE_CHANGE_REQUEST_OPENED = Cypher(
    """
    UNWIND $rows AS row
    MATCH (a:ChangeRequest {id: row.from})
    MATCH (b:Agreement {id: row.to})
    MERGE (a)-[r:OPENED]->(b)
    ON CREATE SET r += row.props
    RETURN count(*) AS written
    """
)
