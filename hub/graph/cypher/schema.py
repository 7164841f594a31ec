"""Constraints, indexes and the migration ledger."""

from hub.graph.cypher import Cypher

PING = Cypher("RETURN 1 AS ok")

COMPONENT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT component_id IF NOT EXISTS FOR (n:Component) REQUIRE n.id IS UNIQUE"
)
TEAM_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT team_id IF NOT EXISTS FOR (n:Team) REQUIRE n.id IS UNIQUE"
)
VENDOR_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT vendor_id IF NOT EXISTS FOR (n:Vendor) REQUIRE n.id IS UNIQUE"
)
CUSTOMER_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT customer_id IF NOT EXISTS FOR (n:Customer) REQUIRE n.id IS UNIQUE"
)
AGREEMENT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT agreement_id IF NOT EXISTS FOR (n:Agreement) REQUIRE n.id IS UNIQUE"
)
OBJECTIVE_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT objective_id IF NOT EXISTS FOR (n:Objective) REQUIRE n.id IS UNIQUE"
)
EXTERNAL_REF_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT external_ref_key IF NOT EXISTS FOR (n:ExternalRef) REQUIRE n.key IS UNIQUE"
)
API_TOKEN_HASH_UNIQUE = Cypher(
    "CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (n:ApiToken) REQUIRE n.hash IS UNIQUE"
)
AUDIT_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT audit_record_id IF NOT EXISTS FOR (n:AuditRecord) REQUIRE n.id IS UNIQUE"
)
MIGRATION_VERSION_UNIQUE = Cypher(
    "CREATE CONSTRAINT migration_version IF NOT EXISTS "
    "FOR (n:Migration) REQUIRE n.version IS UNIQUE"
)
EXTERNAL_REF_TARGET_INDEX = Cypher(
    "CREATE INDEX external_ref_target IF NOT EXISTS FOR (n:ExternalRef) ON (n.targetId)"
)
COMPONENT_STATUS_INDEX = Cypher(
    "CREATE INDEX component_status IF NOT EXISTS FOR (n:Component) ON (n.status)"
)
COMPONENT_NAME_INDEX = Cypher(
    "CREATE INDEX component_name IF NOT EXISTS FOR (n:Component) ON (n.name)"
)
AGREEMENT_STATUS_INDEX = Cypher(
    "CREATE INDEX agreement_status IF NOT EXISTS FOR (n:Agreement) ON (n.status)"
)
AGREEMENT_KIND_INDEX = Cypher(
    "CREATE INDEX agreement_kind IF NOT EXISTS FOR (n:Agreement) ON (n.kind)"
)
AUDIT_TARGET_INDEX = Cypher(
    "CREATE INDEX audit_record_target IF NOT EXISTS FOR (n:AuditRecord) ON (n.targetId)"
)

# ArcadeDB stores a node with two labels in a type of its own ("Component~Service"),
# created by the first write that needs it; two transactions creating it at once fail
# one of them (TypeAlreadyExistsException, reported as a SemanticError, not retried).
# Creating and deleting one node of each kind makes both types exist before any import.
# On Neo4j this changes nothing.
COMPONENT_KIND_TYPES = Cypher(
    """
    CREATE (s:Component:Service {id: 'migration-probe:Service'}),
           (c:Component:ConfigurationItem {id: 'migration-probe:ConfigurationItem'})
    DELETE s, c
    """
)

SYNC_STATE_UNIQUE = Cypher(
    "CREATE CONSTRAINT sync_state_connector IF NOT EXISTS "
    "FOR (n:SyncState) REQUIRE n.connector IS UNIQUE"
)
SYNC_LEASE_UNIQUE = Cypher(
    "CREATE CONSTRAINT sync_lease_connector IF NOT EXISTS "
    "FOR (n:SyncLease) REQUIRE n.connector IS UNIQUE"
)
SYNC_RUN_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT sync_run_id IF NOT EXISTS FOR (n:SyncRun) REQUIRE n.id IS UNIQUE"
)
# Every run closes its connector's abandoned runs first (`CLOSE_ABANDONED_RUNS`) and
# the API lists a connector's runs: both by connector, over runs never pruned.
SYNC_RUN_CONNECTOR_INDEX = Cypher(
    "CREATE INDEX sync_run_connector IF NOT EXISTS FOR (n:SyncRun) ON (n.connector)"
)
QUARANTINE_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT quarantined_record_key IF NOT EXISTS "
    "FOR (n:QuarantinedRecord) REQUIRE n.key IS UNIQUE"
)
INCIDENT_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT incident_key IF NOT EXISTS FOR (n:Incident) REQUIRE n.key IS UNIQUE"
)
INCIDENT_OPENED_INDEX = Cypher(
    "CREATE INDEX incident_opened IF NOT EXISTS FOR (n:Incident) ON (n.openedAt)"
)
EXTERNAL_REF_SOURCE_INDEX = Cypher(
    "CREATE INDEX external_ref_source IF NOT EXISTS FOR (n:ExternalRef) ON (n.source)"
)

COMPONENT_SERIAL_INDEX = Cypher(
    "CREATE INDEX component_serial_number IF NOT EXISTS FOR (n:Component) ON (n.serialNumber)"
)
COMPONENT_FQDN_INDEX = Cypher(
    "CREATE INDEX component_fqdn IF NOT EXISTS FOR (n:Component) ON (n.fqdn)"
)

APPLIED_MIGRATIONS = Cypher("MATCH (m:Migration) RETURN m.version AS version ORDER BY version")

RECORD_MIGRATION = Cypher(
    """
    MERGE (m:Migration {version: $version})
    ON CREATE SET m.name = $name, m.appliedAt = $appliedAt
    """
)
