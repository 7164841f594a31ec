"""Recording a sync run: saved RUNNING when it starts, and always saved again when it
ends, whatever ended it, so that no run stays RUNNING in `syncRuns` after its process
stopped working on it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from hub.connectors.http import ConnectorError
from hub.graph.errors import GraphError
from hub.graph.ids import utc_now
from hub.graph.repositories.sync import SyncRepository, SyncRun, new_run_id

log = logging.getLogger(__name__)

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
    FAILED too, and the cancellation goes on. The caller holds the connector's lease.

    Example::

        async with recorded_run(repository, connector.name) as run:
            run.fetched += await fetch_and_write()
        return run  # SUCCEEDED, or FAILED with run.error
    """
    run = SyncRun(id=new_run_id(), connector=connector)
    await repository.save_run(run)
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
        await repository.save_run(run)
