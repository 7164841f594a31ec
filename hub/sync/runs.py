"""Recording a sync run: saved RUNNING when it starts, and always saved again when it
ends, whatever ended it, so that no run stays RUNNING in `syncRuns` after its process
stopped working on it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from hub.connectors.http import ConnectorError
from hub.graph.errors import GraphError
from hub.graph.ids import utc_now
from hub.graph.repositories.sync import SyncRepository, SyncRun, new_run_id
from hub.observability.logs import request_id
from hub.observability.metrics import metrics_of

log = logging.getLogger(__name__)

# The error of a run found RUNNING by the next run of its connector.
ABANDONED = (
    "abandoned: the process running it stopped before recording how it ended (killed, "
    "or lost the graph); the next run resumed from the last committed batch"
)

# An unexpected error's message is kept in the run this long at most (the log has all).
_MAX_ERROR = 500


def _unexpected(exc: Exception) -> str:
    message = str(exc)
    if len(message) > _MAX_ERROR:
        message = message[:_MAX_ERROR] + "..."
    return (
        f"unexpected error ({type(exc).__name__}: {message}); the hub's log has the "
        "traceback. Please report it."
    )


@contextlib.asynccontextmanager
async def recorded_run(repository: SyncRepository, connector: str) -> AsyncIterator[SyncRun]:
    """A new run of `connector`, saved as RUNNING, then saved again when the block ends.

    A block that ends normally leaves the status it set, or SUCCEEDED. A block that
    raises a connector or graph error, or any other exception (a bug), ends as FAILED
    with the error, and the exception goes no further: the caller gets the run back
    and reports it like any failed run. A run cancelled (e.g. at shutdown) is saved as
    FAILED too, and the cancellation goes on. The caller holds the connector's lease;
    runs of the connector still RUNNING then were left so by a process that died, and
    are recorded as FAILED (`ABANDONED`) before the new one starts.

    Example::

        async with recorded_run(repository, connector.name) as run:
            run.fetched += await fetch_and_write()
        return run  # SUCCEEDED, or FAILED with run.error
    """
    # A run left RUNNING by a process that died (kill -9, lost host) ends here: under
    # the lease none of this connector's runs is going on.
    for abandoned in await repository.close_abandoned_runs(connector, ABANDONED):
        log.warning("sync run %s of %s was left RUNNING; recorded as FAILED", abandoned, connector)
    run = SyncRun(id=new_run_id(), connector=connector)
    started = time.monotonic()
    # A scheduled run's log lines (graph, connector) carry its run id; one asked for in
    # a request keeps the request's id.
    await repository.save_run(run)
    reset = request_id.set(request_id.get() or run.id)
    try:
        yield run
        if run.status == "RUNNING":
            run.status = "SUCCEEDED"
    except (ConnectorError, GraphError) as exc:
        run.status, run.error = "FAILED", str(exc)
        log.error("sync of %s failed: %s", connector, exc)
    except Exception as exc:
        run.status, run.error = "FAILED", _unexpected(exc)
        log.exception("sync of %s failed unexpectedly", connector)
    except BaseException:
        run.status, run.error = "FAILED", "the run was cancelled before it finished"
        raise
    finally:
        run.finished_at = utc_now()
        metrics = metrics_of(repository.graph)
        if metrics is not None:
            metrics.observe_sync_run(run, time.monotonic() - started)
        try:
            await repository.save_run(run)
        finally:
            request_id.reset(reset)
