"""`GET /reports/{snapshotId}.{json|csv|pdf}`: a published report's files.

The same bearer token rules as /graphql: 401 without a valid token, 403 for a pusher
token. A snapshot the token may not read (`snapshot_readable`: its scope must cover
every business unit and region of the snapshot; customer tokens read only their
customer's) answers 404, as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hub.domain.reports import ReportFormat, sha256_hex
from hub.domain.workflow import Role
from hub.graph.client import Graph
from hub.graph.repositories import TokenRepository
from hub.graph.repositories.reports import ReportRepository
from hub.http_auth import bearer_token

PATH = "/reports/{snapshot_id:str}.{extension:str}"
MEDIA_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.PDF: "application/pdf",
}


class ReportDownloads:
    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._tokens = TokenRepository(graph)

    async def handle(self, request: Request) -> Response:
        token = bearer_token(request)
        actor = None if token is None else await self._tokens.authenticate(token)
        if actor is None:
            return PlainTextResponse(
                "a valid bearer token is required; create one with `hub token create`",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="hub"'},
            )
        if actor.role is Role.PUSHER:
            return PlainTextResponse(
                "a pusher token may only push measurements; use a viewer (or stronger) token",
                status_code=403,
            )
        snapshot_id = str(request.path_params["snapshot_id"])
        extension = str(request.path_params["extension"]).lower()
        formats = {f.extension: f for f in ReportFormat}
        missing = PlainTextResponse(
            f"no published report {snapshot_id}.{extension}; reportSnapshots lists them",
            status_code=404,
        )
        if extension not in formats:
            return missing
        format = formats[extension]
        repository = ReportRepository(self._graph, actor.scope.at(datetime.now(UTC)))
        snapshot = await repository.snapshot(snapshot_id)
        digest = None if snapshot is None else snapshot.file(format)
        if digest is None:
            return missing
        data = await repository.file(snapshot_id, format)
        if sha256_hex(data) != digest.sha256:
            # Never serve a file that is not the one published: `hub report verify`.
            return PlainTextResponse(
                "this report file does not match its published SHA-256; an administrator "
                "should run `hub report verify`",
                status_code=500,
            )
        return Response(
            data,
            media_type=MEDIA_TYPES[format],
            headers={
                "Content-Disposition": f'attachment; filename="{snapshot_id}.{extension}"',
                "ETag": f'"{digest.sha256}"',
                "Cache-Control": "private, max-age=0",
            },
        )
