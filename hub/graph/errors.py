"""The graph layer's exceptions. Driver errors are converted here, at the boundary."""

from __future__ import annotations

from hub.domain.errors import quoted


class GraphError(Exception):
    """Base class for everything the graph layer raises."""


class GraphUnavailableError(GraphError):
    """The graph server cannot be reached or did not answer in time."""


class GraphTimeoutError(GraphUnavailableError):
    """A transaction did not finish within its time limit and was abandoned (its
    connection closed). A write that timed out while committing may have committed;
    the hub's writes are idempotent, so running it again is safe."""


class EmbeddedServerError(GraphError):
    """The embedded graph server could not be started, attached to or stopped."""


class NotFoundError(GraphError):
    """A node named by id does not exist (or is outside the caller's scope)."""

    def __init__(self, kind: str, node_id: str) -> None:
        super().__init__(f"{kind} {quoted(node_id)} does not exist")
        self.kind = kind
        self.node_id = node_id


class ConflictError(GraphError):
    """A write would break an invariant the graph enforces (e.g. a state transition)."""
