"""The notification outbox: deliveries, their claims and outcomes, stored attachments.

A `Notification` node is one delivery (one channel, one target). Its content is
written once, when it is enqueued; afterwards only the dispatcher's claim and the
outcome of each attempt change it (`docs/notifications.md`).
"""

from hub.graph.cypher import Cypher

NOTIFICATION_ID_UNIQUE = Cypher(
    "CREATE CONSTRAINT notification_id IF NOT EXISTS FOR (n:Notification) REQUIRE n.id IS UNIQUE"
)
NOTIFICATION_STATUS_INDEX = Cypher(
    "CREATE INDEX notification_status IF NOT EXISTS FOR (n:Notification) ON (n.status)"
)
NOTIFICATION_DUE_INDEX = Cypher(
    "CREATE INDEX notification_due IF NOT EXISTS FOR (n:Notification) ON (n.nextAttemptAt)"
)
NOTIFICATION_KIND_INDEX = Cypher(
    "CREATE INDEX notification_kind IF NOT EXISTS FOR (n:Notification) ON (n.kind)"
)
NOTIFICATION_ABOUT_INDEX = Cypher(
    "CREATE INDEX notification_about IF NOT EXISTS FOR (n:Notification) ON (n.about)"
)
NOTIFICATION_SORT_KEY_INDEX = Cypher(
    "CREATE INDEX notification_sort_key IF NOT EXISTS FOR (n:Notification) ON (n.sortKey)"
)
NOTIFICATION_ATTACHMENT_KEY_UNIQUE = Cypher(
    "CREATE CONSTRAINT notification_attachment_key IF NOT EXISTS "
    "FOR (n:NotificationAttachment) REQUIRE n.key IS UNIQUE"
)

# A delivery whose id exists already is left as it is: ids derived from a dedupe key
# make "send once" notifications idempotent, across transactions and restarts.
ENQUEUE_NOTIFICATIONS = Cypher(
    """
    UNWIND $rows AS row
    MERGE (n:Notification {id: row.id})
    ON CREATE SET n += row.props, n.enqueuedBy = $claim
    RETURN n.id AS id, n.enqueuedBy = $claim AS fresh
    """
)

# Content-addressed: the same file sent to ten recipients (or every month) is stored once.
SAVE_ATTACHMENT = Cypher(
    """
    MERGE (a:NotificationAttachment {key: $key})
    ON CREATE SET a.content = $content, a.size = $size, a.createdAt = $now
    """
)

ATTACHMENT_CONTENTS = Cypher(
    """
    UNWIND $keys AS key
    MATCH (a:NotificationAttachment {key: key})
    RETURN a.key AS key, a.content AS content
    """
)

DUE_NOTIFICATIONS = Cypher(
    """
    MATCH (n:Notification)
    WHERE n.status = 'PENDING' AND n.nextAttemptAt <= $now
      AND (n.claimedUntil IS NULL OR n.claimedUntil < $now)
    RETURN n.id AS id
    ORDER BY n.nextAttemptAt, n.id
    LIMIT $limit
    """
)

# Compare-and-set. The first SET takes the node's write lock before its state is read:
# Neo4j reads committed values without locking, so two dispatchers could otherwise both
# read a delivery as free and both send it. ArcadeDB fails one of two transactions that
# update one record at commit instead, and the driver runs it again, when it then reads
# the delivery as claimed. Only the deliveries returned were claimed by `$holder`.
CLAIM_NOTIFICATIONS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (n:Notification {id: id})
    SET n.checkedAt = $now
    WITH n
    WHERE n.status = 'PENDING' AND n.nextAttemptAt <= $now
      AND (n.claimedUntil IS NULL OR n.claimedUntil < $now)
    SET n.claimedBy = $holder, n.claimedUntil = $until, n.attempts = n.attempts + 1,
        n.updatedAt = $now
    RETURN properties(n) AS props
    """
)

# The outcome of an attempt, written only by the holder of the claim (the lock first,
# as above): a dispatcher whose claim ran out and was taken over records nothing.
RECORD_OUTCOME = Cypher(
    """
    MATCH (n:Notification {id: $id})
    SET n.checkedAt = $now
    WITH n
    WHERE n.claimedBy = $holder
    SET n += $outcome
    REMOVE n.claimedBy, n.claimedUntil
    RETURN n.id AS id
    """
)

# An operator's "send it again" for deliveries that failed or were given up.
REQUEUE_NOTIFICATIONS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (n:Notification {id: id})
    WHERE n.status IN ['FAILED', 'GAVE_UP']
    SET n.status = 'PENDING', n.attempts = 0, n.nextAttemptAt = $now, n.updatedAt = $now
    RETURN n.id AS id
    """
)

NOTIFICATIONS_BY_IDS = Cypher(
    """
    UNWIND $ids AS id
    MATCH (n:Notification {id: id})
    RETURN properties(n) AS props
    """
)

# Newest first, paged by `sortKey` (createdAt|id), never by offset.
LIST_NOTIFICATIONS = Cypher(
    """
    MATCH (n:Notification)
    WHERE ($statuses IS NULL OR n.status IN $statuses)
      AND ($kind IS NULL OR n.kind = $kind)
      AND ($about IS NULL OR n.about = $about)
      AND ($channel IS NULL OR n.channel = $channel)
      AND ($before IS NULL OR n.sortKey < $before)
    RETURN properties(n) AS props
    ORDER BY n.sortKey DESC
    LIMIT $limit
    """
)

COUNT_NOTIFICATIONS = Cypher(
    """
    MATCH (n:Notification)
    WHERE $kind IS NULL OR n.kind = $kind
    RETURN n.status AS status, count(n) AS count
    """
)
