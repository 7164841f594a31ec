"""Telemetry buckets, their discrepancies between sources, and violations.

Buckets live in the graph as one `TelemetryDay` node per objective, source and UTC day:
288 five-minute buckets held as two little-endian float64 byte arrays (`good`, `total`;
NaN marks a bucket without data). Byte arrays cross Bolt as one value each, which reads
about ten times faster than lists of floats (measured; docs/service-levels.md). A day of
an objective measured from a latency series also holds `latency`, one float64 per time
slice of `latencySliceSeconds` (86,400 / that many; NaN: no sample).
"""

from __future__ import annotations

from hub.graph.cypher import Cypher

TELEMETRY_DAY_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT telemetry_day_key IF NOT EXISTS FOR (n:TelemetryDay) REQUIRE n.key IS UNIQUE"
)

TELEMETRY_DAY_INDEX = Cypher(
    "CREATE INDEX telemetry_day_day IF NOT EXISTS FOR (n:TelemetryDay) ON (n.day)"
)

DISCREPANCY_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT telemetry_discrepancy_key IF NOT EXISTS "
    "FOR (n:TelemetryDiscrepancy) REQUIRE n.key IS UNIQUE"
)

DISCREPANCY_OBJECTIVE_INDEX = Cypher(
    "CREATE INDEX telemetry_discrepancy_objective IF NOT EXISTS "
    "FOR (n:TelemetryDiscrepancy) ON (n.objectiveId)"
)

VIOLATION_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT violation_key IF NOT EXISTS FOR (n:Violation) REQUIRE n.key IS UNIQUE"
)

VIOLATION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT violation_id IF NOT EXISTS FOR (n:Violation) REQUIRE n.id IS UNIQUE"
)

VIOLATION_PERIOD_INDEX = Cypher(
    "CREATE INDEX violation_period IF NOT EXISTS FOR (n:Violation) ON (n.periodStart)"
)

# One current revision per period, and the index that violation lists start from
# (`recordKey` in hub.graph.cypher.service_levels).
VIOLATION_RECORD_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT violation_record_key IF NOT EXISTS "
    "FOR (n:Violation) REQUIRE n.recordKey IS UNIQUE"
)

# Keys are `objectiveId|source|YYYY-MM-DD`; absent days are simply not returned.
TELEMETRY_DAYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (d:TelemetryDay {key: key})
    RETURN d.key AS key, d.good AS good, d.total AS total
    """
)

# The slice latencies of the days that keep them (objectives measured from a latency
# series): read only by suggestions, so status reads never carry these bytes.
TELEMETRY_LATENCY_DAYS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (d:TelemetryDay {key: key})
    WHERE d.latency IS NOT NULL
    RETURN d.key AS key, d.latency AS latency, d.latencySliceSeconds AS latencySliceSeconds
    """
)

# Each row: key and props (objectiveId, source, day, good, total, sums, updatedAt; and
# latency, latencySliceSeconds for a day that keeps slice latencies).
UPSERT_TELEMETRY_DAYS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (d:TelemetryDay {key: row.key})
    SET d += row.props
    """
)

# Retention: days before $before go, a bounded number per call.
PRUNE_TELEMETRY_DAYS = Cypher(
    """
    MATCH (d:TelemetryDay)
    WHERE d.day < $before
    WITH d LIMIT $limit
    DELETE d
    RETURN count(*) AS pruned
    """
)

# Each row: key (`objectiveId|bucketStart`) and props.
UPSERT_DISCREPANCIES = Cypher(
    """
    UNWIND $rows AS row
    MERGE (x:TelemetryDiscrepancy {key: row.key})
    SET x += row.props
    """
)

# Buckets of the span whose sources agree (again) are no discrepancy.
RESOLVE_DISCREPANCIES = Cypher(
    """
    MATCH (x:TelemetryDiscrepancy {objectiveId: $objectiveId})
    WHERE x.bucketStart >= $from AND x.bucketStart < $to AND NOT x.key IN $keep
    DELETE x
    """
)

DISCREPANCIES_BY_OBJECTIVE_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (x:TelemetryDiscrepancy {objectiveId: id})
    WHERE x.bucketStart >= $from AND x.bucketStart < $to
    RETURN id, x {.*} AS discrepancy
    ORDER BY x.bucketStart
    """
)
