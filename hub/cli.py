"""The ``hub`` command line: serve, tokens, imports, service objectives and the demo."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
import yaml

from hub.domain.bundle import BundleError
from hub.domain.errors import InvalidInputError
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import GraphError
from hub.graph.repositories import BundleImporter, TokenRepository
from hub.graph.repositories.sync import SyncRun
from hub.graph.session import graph_connection, open_graph
from hub.settings import Settings, SettingsError, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="Service Agreements Hub: SLAs, OLAs and UCs over a dependency graph.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo enterprise.", no_args_is_help=True)
slo_app = typer.Typer(help="Service-level objectives as code (OpenSLO v1).", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(demo_app, name="demo")
app.add_typer(slo_app, name="slo")

log = logging.getLogger("hub")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc), code=2) from exc
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The driver logs every retried connection attempt as a warning; ours say enough.
    logging.getLogger("neo4j").setLevel(logging.ERROR)
    # httpx logs every request with its full URL, query values included; ours say enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return settings


def _with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    """Run `work` on a migrated graph, reporting graph failures as one clear line."""

    async def run(connection: GraphConnection) -> T:
        async with open_graph(settings, connection) as graph:
            return await work(graph)

    try:
        with graph_connection(settings) as connection:
            return asyncio.run(run(connection))
    except GraphError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Load the demo enterprise if absent and print a viewer token.")
    ] = False,
) -> None:
    """Serve the GraphQL API (and, with no Neo4j URI, the embedded graph)."""
    from hub.app import create_app

    settings = _settings()
    try:
        with graph_connection(settings) as connection:
            if demo:
                token = asyncio.run(_prepare_demo(settings, connection))
                typer.echo(
                    f"\nGraphiQL: http://{host}:{port}/graphql\n"
                    f"Demo token (viewer), send as 'Authorization: Bearer <token>':\n{token}\n",
                    err=True,
                )
            # uvicorn handles SIGINT/SIGTERM while it serves and re-raises the signal
            # once it has shut down; with these no-op handlers in place that re-raise
            # returns here, so the embedded graph server is stopped in order.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: None)
            uvicorn.run(
                create_app(settings, connection),
                host=host,
                port=port,
                log_level=settings.log_level.lower(),
                lifespan="on",
            )
    except GraphError as exc:
        raise _fail(str(exc)) from exc


async def _prepare_demo(settings: Settings, connection: GraphConnection) -> str:
    from hub.demo import load_demo

    async with open_graph(settings, connection) as graph:
        result = await load_demo(graph)
        if result.loaded:
            log.info("demo enterprise loaded (%d agreements)", result.agreements)
        return await TokenRepository(graph).create("demo", Role.VIEWER, None)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Who the token is for.")],
    role: Annotated[str, typer.Option(help="viewer, editor, approver or admin.")],
    domain: Annotated[
        list[str] | None,
        typer.Option(help="Business unit the token is limited to (repeatable)."),
    ] = None,
) -> None:
    """Print a new API token on stdout (only its hash is stored)."""
    try:
        parsed = Role.parse(role)
    except ValueError as exc:
        raise _fail(str(exc), code=2) from exc
    settings = _settings()
    domains = frozenset(domain) if domain else None
    token = _with_graph(settings, lambda g: TokenRepository(g).create(user, parsed, domains))
    typer.echo(token)


def read_bundle(path: Path) -> dict[str, Any]:
    """A bundle file as data: JSON, or YAML with the same shape."""
    text = path.read_text()
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise BundleError([f"{path}: a bundle is an object with lists of records"])
    return data


@app.command("import")
def import_bundle(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Load a bundle (JSON or YAML) idempotently; all of it or nothing."""
    settings = _settings()
    try:
        raw = read_bundle(file)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise _fail(f"{file} is not valid JSON or YAML: {exc}") from exc
    except BundleError as exc:
        raise _fail(str(exc)) from exc
    try:
        counts = _with_graph(
            settings,
            lambda g: BundleImporter(g, settings.identification.rules()).load(raw),
        )
    except BundleError as exc:
        raise _fail(str(exc)) from exc
    for name, value in _fields(counts):
        typer.echo(f"{name}: {value}")


def _fields(value: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(value, name)) for name in value.__slots__]


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo enterprise into the graph (no change if it is there already)."""
    from hub.demo import load_demo

    settings = _settings()
    result = _with_graph(settings, load_demo)
    if not result.loaded:
        typer.echo("the demo enterprise is already loaded; nothing changed")
        return
    assert result.counts is not None
    for name, value in _fields(result.counts):
        typer.echo(f"{name}: {value}")
    typer.echo(f"agreements: {result.agreements}")


# Who the command line acts as in the audit trail (as for `hub token create`).
CLI_ACTOR = Actor(user="cli", role=Role.ADMIN)


def _rejected(file: Path, exc: InvalidInputError) -> typer.Exit:
    count = len(exc.problems)
    lines = "\n  ".join(str(problem) for problem in exc.problems)
    return _fail(
        f"{file} was rejected ({count} problem{'s' if count != 1 else ''}); "
        f"nothing was written:\n  {lines}"
    )


@slo_app.command("import")
def slo_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Import OpenSLO v1 documents (multi-document YAML) as service objectives; all or nothing."""
    from hub.domain.openslo import parse_documents
    from hub.graph.repositories import ObjectiveRepository

    settings = _settings()
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(f"{file} is not UTF-8 text: {exc}") from exc
    try:
        parsed = parse_documents(text)
        counts = _with_graph(
            settings, lambda g: ObjectiveRepository(g).import_slos(parsed, CLI_ACTOR)
        )
    except InvalidInputError as exc:
        raise _rejected(file, exc) from exc
    for name, value in _fields(counts):
        typer.echo(f"{name}: {value}")


@slo_app.command("export")
def slo_export() -> None:
    """Print every service objective as OpenSLO v1 YAML on stdout."""
    from hub.domain.openslo import to_documents
    from hub.graph.repositories import ObjectiveRepository

    settings = _settings()
    pairs = _with_graph(settings, lambda g: ObjectiveRepository(g).service_objectives())
    # Written with the reference the SLO was imported with, else the service's name.
    # Service objectives come from OpenSLO imports, so all have a name and a metric.
    text = to_documents(
        (objective.origin.service if objective.origin else service.name, objective)
        for service, objective in pairs
        if objective.metric is not None and objective.name is not None
    )
    typer.echo(text, nl=False)


@slo_app.command("assess")
def slo_assess(
    at: Annotated[
        datetime | None,
        typer.Option(help="Assess the periods ended by this UTC time (default now)."),
    ] = None,
) -> None:
    """Assess breaches now (as `hub serve` does on its interval) and list the violations."""
    from hub.engine.service import ServiceLevels

    settings = _settings()
    moment = datetime.now(UTC) if at is None else at.replace(tzinfo=at.tzinfo or UTC)
    breaches = _with_graph(settings, lambda g: ServiceLevels(g, settings.slo).assess(moment))
    for breach in sorted(breaches, key=lambda b: (b.period.start, b.objective_id)):
        credit = "" if breach.credit_percent is None else f" credit {breach.credit_percent:g}%"
        typer.echo(
            f"{breach.period.start:%Y-%m-%d} {breach.objective_id} {breach.severity}: "
            f"{breach.measured:.4f}% < {breach.target:g}%{credit}"
        )
    typer.echo(f"violations: {len(breaches)}")


@app.command()
def sync(source: Annotated[str, typer.Argument(help="A configured connector.")]) -> None:
    """Run one sync of SOURCE now, with progress on stderr and a summary on stdout."""
    from hub.sync.lease import LeaseHeldError
    from hub.sync.registry import UnknownConnectorError

    settings = _settings()
    try:
        run = _with_graph(settings, lambda graph: _sync_with_progress(settings, graph, source))
    except UnknownConnectorError as exc:
        raise _fail(str(exc), code=2) from exc
    except LeaseHeldError as exc:
        # Not a failure: the other process is doing this very work.
        typer.echo(str(exc), err=True)
        return
    for name in ("fetched", "created", "updated", "deleted", "quarantined"):
        typer.echo(f"{name}: {getattr(run, name)}")
    typer.echo(f"duration: {_duration(run.started_at, run.finished_at)}")
    for note in run.notes:
        typer.echo(f"note: {note}", err=True)
    if run.status != "SUCCEEDED":
        raise _fail(f"the sync of {source} failed: {run.error}")


async def _sync_with_progress(settings: Settings, graph: Graph, source: str) -> SyncRun:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hub.sync.service import sync_now

    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"{source}: starting", total=None)

        def show(run: SyncRun) -> None:
            bar.update(
                task,
                description=f"{source}: {run.fetched} fetched, {run.created} created, "
                f"{run.updated} updated, {run.quarantined} quarantined",
            )

        return await sync_now(settings, graph, source, progress=show)


def _duration(started: str, finished: str | None) -> str:
    if finished is None:
        return "unknown"
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return f"{seconds:.1f} s"


def main() -> None:
    app()
