"""The ``hub`` command line: serve, tokens, imports, service objectives and the demo."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shlex
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from hub.domain.bundle import BundleError, bundle_data
from hub.domain.change_control import Binding
from hub.domain.errors import FieldProblem, InvalidInputError, quoted
from hub.domain.models import Objective
from hub.domain.rules import RuleSource
from hub.domain.workflow import Actor, Role
from hub.graph.client import Graph, GraphConnection
from hub.graph.errors import GraphError, NotFoundError
from hub.graph.repositories import BundleImporter, TokenRepository
from hub.graph.repositories.identity import TokenInfo
from hub.graph.repositories.sync import SyncRun
from hub.graph.session import graph_connection, open_graph
from hub.observability.logs import configure_logging
from hub.settings import Settings, SettingsError, TelemetryBinding, load_settings

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
audit_app = typer.Typer(
    help="The audit trail, and the periodic SLA audit (`hub audit run`).", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
report_app = typer.Typer(help="Published compliance reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")

log = logging.getLogger("hub")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc), code=2) from exc
    # Text or JSON lines, each with its request id (docs/observability.md).
    configure_logging(settings.log_level, settings.log_format, stream=sys.stderr)
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
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes sharing the port (docs/scaling.md), one graph for all."
        ),
    ] = 1,
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
            if workers > 1:
                from hub.workers import prepare_parent_graph

                # Once, here, before any worker starts (they skip it) and while a
                # signal still stops `serve` and the graph server.
                asyncio.run(prepare_parent_graph(settings, connection))
            # uvicorn handles SIGINT/SIGTERM while it serves and re-raises the signal
            # once it has shut down; with these no-op handlers in place that re-raise
            # returns here, so the embedded graph server is stopped in order.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: None)
            if workers > 1:
                from hub.workers import serve_workers

                # The supervisor stops its workers on SIGINT/SIGTERM and returns.
                try:
                    serve_workers(settings, connection, host=host, port=port, workers=workers)
                except OSError as exc:
                    raise _fail(str(exc)) from exc
                return
            uvicorn.run(
                create_app(settings, connection),
                host=host,
                port=port,
                log_level=settings.log_level.lower(),
                # JSON logs: uvicorn's own loggers then go through the hub's handler.
                log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
                lifespan="on",
                # On SIGTERM, requests still running after this long are cancelled:
                # one that hangs must not keep the process (and its graph) alive.
                timeout_graceful_shutdown=settings.api.graceful_shutdown_seconds,
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
    role: Annotated[str, typer.Option(help="viewer, editor, approver, admin, customer or pusher.")],
    domain: Annotated[
        list[str] | None,
        typer.Option(help="Business unit the token is limited to (repeatable)."),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option(help="Region the token is limited to (repeatable)."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(help="Approval group the holder signs for, kept on the token (repeatable)."),
    ] = None,
    # A list, so that a second --customer is refused instead of silently winning.
    customer: Annotated[
        list[str] | None,
        typer.Option(metavar="CUSTOMER_ID", help="The customer a customer token is bound to."),
    ] = None,
    objective: Annotated[
        list[str] | None,
        typer.Option(
            metavar="OBJECTIVE_ID", help="An objective a pusher token may push to (repeatable)."
        ),
    ] = None,
    expires_in: Annotated[
        int | None,
        typer.Option(metavar="DAYS", help="Days until the token expires (default: never)."),
    ] = None,
) -> None:
    """Print a new API token on stdout, on the last line (only its hash is stored)."""
    from hub.domain.tokens import TokenSpec

    try:
        parsed = Role.parse(role)
    except ValueError as exc:
        raise _fail(str(exc), code=2) from exc
    if customer is not None and len(customer) > 1:
        raise _fail("a customer token is bound to one customer: give --customer once", code=2)
    spec = TokenSpec.of(
        user,
        parsed,
        domains=domain,
        regions=region,
        groups=group or (),
        customer_id=customer[0] if customer else None,
        objectives=objective or (),
        expires_in_days=expires_in,
    )
    if problems := spec.problems():
        raise _fail(_problems(problems), code=2)
    settings = _settings()
    known = settings.policy.groups
    if known and (unknown := sorted(set(group or ()) - set(known))):
        # A group no board can name would never sign anything: a typo, most likely.
        raise _fail(
            f"unknown approval group {unknown[0]!r}; policy.groups names {', '.join(known)}",
            code=2,
        )
    try:
        issued = _with_graph(settings, lambda g: TokenRepository(g).issue(spec))
    except InvalidInputError as exc:
        raise _fail(_problems(exc.problems), code=2) from exc
    typer.echo(f"id: {issued.id}")
    typer.echo(f"expires: {issued.expires_at or 'never'}")
    typer.echo(issued.token)


def _problems(problems: list[FieldProblem]) -> str:
    return "; ".join(problem.message for problem in problems)


@token_app.command("list")
def token_list() -> None:
    """One line per token: id, user, role, scope, groups, expiry, revoked (never the token)."""
    settings = _settings()
    tokens = _with_graph(settings, lambda g: TokenRepository(g).all_tokens())
    for info in tokens:
        typer.echo(_token_line(info))
    if not tokens:
        typer.echo("no tokens; create one with `hub token create`", err=True)


def _token_line(info: TokenInfo) -> str:
    def listed(values: tuple[str, ...] | None, unlimited: str) -> str:
        return unlimited if values is None else ",".join(values) or "-"

    fields = [
        ("user", info.user),
        ("role", info.role),
        ("domains", listed(info.domains, "all")),
        ("regions", listed(info.regions, "all")),
        ("groups", listed(info.groups, "-")),
    ]
    if info.customer_id is not None:
        fields.append(("customer", info.customer_id))
    if info.objectives:
        fields.append(("objectives", listed(info.objectives, "-")))
    fields += [
        ("expires", info.expires_at or "never"),
        ("revoked", "no" if info.revoked_at is None else "yes"),
    ]
    return " ".join([info.id, *(f"{name}={shlex.quote(value)}" for name, value in fields)])


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str, typer.Argument(metavar="TOKEN_ID", help="As `hub token list` shows it.")
    ],
) -> None:
    """Revoke a token: from now on it gets 401."""

    async def revoke(graph: Graph) -> TokenInfo | None:
        try:
            return await TokenRepository(graph).revoke(token_id)
        except NotFoundError:
            return None

    settings = _settings()
    info = _with_graph(settings, revoke)
    if info is None:
        raise _fail(f"no token has the id {quoted(token_id)}; `hub token list` shows the ids")
    typer.echo(f"revoked {info.id} (user {info.user}, {info.role}) at {info.revoked_at}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first record that does
    not match."""
    from hub.graph.repositories import AuditRepository

    settings = _settings()
    report = _with_graph(settings, lambda g: AuditRepository(g).verify())
    if not report.intact:
        raise _fail(report.summary())
    typer.echo(report.summary())


@report_app.command("verify")
def report_verify() -> None:
    """Check every published report snapshot: its files' SHA-256, its hash and the hash
    chain; exit 1 naming the first mismatch."""
    from hub.reports.verify import verify_archive

    settings = _settings()
    report = _with_graph(settings, verify_archive)
    if not report.intact:
        raise _fail(report.summary())
    typer.echo(report.summary())


@audit_app.command("run")
def audit_run(
    period: Annotated[str, typer.Option(help="The month to audit, YYYY-MM.")],
) -> None:
    """The periodic SLA audit of a month: every violation and credit drawn again from
    its evidence, data coverage, chains verified; prints the findings, archives the
    report, exits 1 when there are findings."""
    from hub.domain.periodic_audit import month_period
    from hub.sync.periodic_audit import run_periodic_audit

    try:
        month_period(period)
    except ValueError as exc:
        raise _fail(str(exc), code=2) from exc
    settings = _settings()
    result = _with_graph(
        settings,
        lambda g: run_periodic_audit(g, settings, period, datetime.now(UTC), actor=CLI_ACTOR.user),
    )
    for line in result.lines():
        typer.echo(line)
    if not result.clean:
        raise typer.Exit(1)


def read_bundle(path: Path) -> dict[str, Any]:
    """A bundle file as data: JSON, or YAML with the same shape (`bundle_data`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError([f"{path} cannot be read: {exc.strerror}"]) from exc
    return bundle_data(data, str(path))


@app.command("import")
def import_bundle(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Load a bundle (JSON or YAML) idempotently; all of it or nothing."""
    settings = _settings()
    try:
        raw = read_bundle(file)
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
    return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]


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
    from hub.domain.documents import DocumentError, decode
    from hub.domain.openslo import parse_documents
    from hub.graph.repositories import ObjectiveRepository

    settings = _settings()
    try:
        text = decode(file.read_bytes(), str(file))
    except DocumentError as exc:
        raise _fail(str(exc)) from exc
    try:
        parsed = parse_documents(text)
        counts = _with_graph(
            settings, lambda g: ObjectiveRepository(g).import_slos(parsed, CLI_ACTOR)
        )
    except InvalidInputError as exc:
        raise _rejected(file, exc) from exc
    for name, value in _fields(counts):
        typer.echo(f"{name}: {value}")


# The annotation on an OpenSLO `metadata` that `hub slo apply` copies to the labels; the
# ownership ones (hub.owner, hub.consumer, hub.mode) are `hub.domain.openslo.annotations`.
INDICATOR_ANNOTATION = "hub.indicator"


@slo_app.command("apply")
def slo_apply(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Create or update the service objectives of OpenSLO v1 documents with the hub's
    annotations (a provisioning step: idempotent, all or nothing).

    As `hub slo import`, and `metadata.annotations` may carry `hub.indicator` (as the
    label does), `hub.owner` and `hub.consumer` (a team's id or name) and `hub.mode`
    (ACTIVE or REPORTED), given to each objective of the SLO; an annotation left out
    leaves that part as it is. Objectives of SLOs the file does not name are left alone.
    """
    from hub.domain.documents import DocumentError, decode
    from hub.domain.openslo import parse_documents
    from hub.graph.repositories import ObjectiveRepository

    settings = _settings()
    try:
        text = decode(file.read_bytes(), str(file))
    except DocumentError as exc:
        raise _fail(str(exc)) from exc
    try:
        parsed = parse_documents(_annotations_as_labels(text))
        reason = f"hub slo apply {file.name}"
        counts = _with_graph(
            settings, lambda g: ObjectiveRepository(g).apply_slos(parsed, CLI_ACTOR, reason)
        )
    except InvalidInputError as exc:
        raise _rejected(file, exc) from exc
    for name, value in _fields(counts):
        typer.echo(f"{name}: {value}")


def _annotations_as_labels(text: str) -> str:
    """`text` with each SLO's `hub.indicator` annotation copied to its labels. Text that
    is no YAML stream is returned as it is, for the OpenSLO reader to report."""
    import yaml

    from hub.domain.documents import UniqueKeyLoader

    try:
        documents = list(yaml.load_all(text, Loader=UniqueKeyLoader))
    except (yaml.YAMLError, RecursionError):
        return text
    problems: list[FieldProblem] = []
    for index, document in enumerate(documents):
        meta = document.get("metadata") if isinstance(document, dict) else None
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not isinstance(annotations, dict):
            continue
        path = f"documents[{index}].metadata"
        indicator = annotations.get(INDICATOR_ANNOTATION)
        labels = meta.setdefault("labels", {}) if indicator is not None else None
        # A label that says otherwise is a conflict; a non-mapping is the reader's to report.
        if isinstance(labels, dict) and labels.setdefault(INDICATOR_ANNOTATION, indicator) != (
            indicator
        ):
            problems.append(
                FieldProblem(
                    f"{path}.annotations.{INDICATOR_ANNOTATION}",
                    "differs from the label of the same name; give one of them",
                )
            )
    if problems:
        raise InvalidInputError(problems)
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True)


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


@slo_app.command("rules")
def slo_rules(
    output: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write the rules to FILE (default: stdout)."),
    ] = None,
) -> None:
    """Write Prometheus recording and burn-rate alerting rules (Sloth-compatible names)
    for every alerted objective that Prometheus measures; skipped ones go to stderr."""
    from hub.domain.rules import alerted_sources, rules_yaml
    from hub.engine.status import alert_pairs

    settings = _settings()

    async def collect(graph: Graph) -> tuple[list[RuleSource], list[str], set[str]]:
        from hub.graph.repositories.ownership import OwnershipRepository

        found, skipped = await _rule_sources(graph, settings)
        # The monitoring mode gates every alert (hub.domain.monitoring): REPORTED
        # objectives are measured for reports only.
        alerted = await OwnershipRepository(graph).alerted_ids(
            [s.objective.id for s in found], settings.slo.monitoring
        )
        return found, skipped, alerted

    found, skipped, alerted = _with_graph(settings, collect)
    skipped += [
        f"{s.objective.id}: REPORTED mode, measured for reports only"
        for s in found
        if s.objective.id not in alerted
    ]
    sources = alerted_sources(found, alerted=lambda o: o.id in alerted)
    text = rules_yaml(sources, alert_pairs(settings.slo))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
    for line in skipped:
        typer.echo(f"skipped: {line}", err=True)
    typer.echo(f"objectives: {len(sources)}", err=True)


@slo_app.command("backtest")
def slo_backtest(
    start: Annotated[datetime, typer.Option("--from", help="First day replayed (UTC).")],
    end: Annotated[datetime, typer.Option("--to", help="End of the history read (UTC).")],
    objective: Annotated[
        list[str] | None,
        typer.Option(help="An objective's id or name (repeat; default: every measured one)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead.")] = False,
    record: Annotated[bool, typer.Option(help="Keep each objective's chosen model on it.")] = True,
) -> None:
    """Backtest breach prediction: replay every day of [--from, --to), the linear forecast
    against the seasonal model, print precision, recall and lead time, and keep on each
    objective the model it gets (docs/service-levels.md, "Breach prediction")."""
    import json

    from hub.domain.prediction import report_json, report_lines
    from hub.engine.prediction import PredictionEngine
    from hub.graph.repositories import ObjectiveRepository

    settings = _settings()
    first, last = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if last <= first:
        raise _fail(f"--to ({last:%Y-%m-%d %H:%M}) must come after --from", code=2)

    async def run(graph: Graph) -> tuple[Any, int | None]:
        objectives = ObjectiveRepository(graph)
        if objective:
            named = await objectives.by_ids_or_names(objective)
            unknown = [ref for ref, found in named.items() if not found]
            if unknown:
                raise _fail(f"no objective has the id or name {', '.join(unknown)}", code=2)
            chosen = list({o.id: o for found in named.values() for o in found}.values())
        else:
            chosen = await objectives.measured_objectives()
        engine = PredictionEngine(graph, settings.slo)
        result = await engine.backtest(chosen, first, last)
        written = await engine.record(result, first, last) if record else None
        return result, written

    result, written = _with_graph(settings, run)
    if as_json:
        typer.echo(json.dumps({**report_json(result), "recorded": written}, indent=2))
        return
    typer.echo(f"backtest {first:%Y-%m-%d} to {last:%Y-%m-%d}, every midnight (UTC)")
    for line in report_lines(result):
        typer.echo(line)
    if written is not None:
        typer.echo(f"recorded: {written}")


async def _rule_sources(graph: Graph, settings: Settings) -> tuple[list[RuleSource], list[str]]:
    """The objectives Prometheus measures as primary source, as `hub sync prometheus`
    plans them (`hub.sync.telemetry`), with the service (or agreement) name each
    has in rules; and one line per binding that has no rules of its own."""
    from hub.domain.rules import Sli
    from hub.graph.repositories import AgreementRepository, ObjectiveRepository
    from hub.graph.repositories.sunset import SunsetRepository
    from hub.sync.telemetry import check_bindings, plans_for

    now = datetime.now(UTC)
    objectives = ObjectiveRepository(graph)
    check = await check_bindings(graph, settings.slo, now, None, pin=False)
    skipped: list[str] = []
    bindings = []
    for binding, objective in [
        *((b, o) for o in check.live.values() for b in o.bindings),
        *_unpinned(check.live.values(), settings.slo.bindings),
        *check.free,
    ]:
        if binding.source != "prometheus":
            continue
        if binding.sloth_service is not None:
            skipped.append(f"{objective.id}: measured by Sloth's rules, which it has already")
        elif binding.latency is not None:
            skipped.append(f"{objective.id}: a latency series is no ratio of events")
        else:
            bindings.append((binding, objective))
    plans, problems = plans_for("prometheus", await objectives.measured_objectives(), bindings)
    skipped.extend(problems)
    sunset = await SunsetRepository(graph).sunset_objective_ids(now)
    plans = [p for p in plans if p.role == "primary" and p.objective.id not in sunset]
    services = {o.id: c.name for c, o in await objectives.service_objectives()}
    agreements = await AgreementRepository(graph).by_ids(
        sorted({p.objective.agreement_id for p in plans if p.objective.agreement_id})
    )
    sources = []
    for plan in plans:
        owner = plan.objective.agreement_id
        name = services.get(plan.objective.id) or (
            agreements[owner].name if owner in agreements else owner or plan.objective.id
        )
        sli = Sli(
            good=plan.good,
            bad=plan.bad,
            total=plan.total,
            counter=plan.counter,
            ratio=plan.ratio,
            error_ratio=plan.error_ratio,
        )
        sources.append(RuleSource(plan.objective, name, sli))
    return sources, skipped


def _unpinned(
    live: Iterable[Objective], configured: Sequence[TelemetryBinding]
) -> list[tuple[Binding, Objective]]:
    """The settings bindings of objectives in force that the next sync will pin (they have
    none of their own yet): by id, or by a name only one of them has."""
    from hub.sync.telemetry import as_binding

    objectives = list(live)
    names = Counter(o.name for o in objectives)
    return [
        (as_binding(binding), objective)
        for objective in objectives
        if not objective.bindings
        for binding in configured
        if binding.objective == objective.id
        or (binding.objective == objective.name and names[objective.name] == 1)
    ]


@slo_app.command("assess")
def slo_assess(
    at: Annotated[
        datetime | None,
        typer.Option(help="Assess the periods ended by this UTC time (default now)."),
    ] = None,
) -> None:
    """Assess breaches now (as `hub serve` does on its interval) and list the violations;
    then look for report anomalies (docs/reporting.md, "Anomalies")."""
    from hub.domain.breaches import Breach
    from hub.engine.service import ServiceLevels
    from hub.sync.anomalies import detect_after_assessment

    settings = _settings()
    moment = datetime.now(UTC) if at is None else at.replace(tzinfo=at.tzinfo or UTC)

    async def assess(g: Graph) -> tuple[list[Breach], int | None]:
        found = await ServiceLevels(g, settings.slo).assess(moment, policy=settings.remediation)
        return found, await detect_after_assessment(g, settings, moment)

    breaches, anomalies = _with_graph(settings, assess)
    for breach in sorted(breaches, key=lambda b: (b.period.start, b.objective_id)):
        credit = "" if breach.credit_percent is None else f" credit {breach.credit_percent:g}%"
        typer.echo(
            f"{breach.period.start:%Y-%m-%d} {breach.objective_id} {breach.severity}: "
            f"{breach.measured:.4f}% < {breach.target:g}%{credit}"
        )
    typer.echo(f"violations: {len(breaches)}")
    if anomalies is not None:
        typer.echo(f"new report anomalies: {anomalies}")


@app.command()
def sync(source: Annotated[str, typer.Argument(help="A configured connector.")]) -> None:
    """Run one sync of SOURCE now, with progress on stderr and a summary on stdout.

    Exits 0 when the run succeeded; 3 when it refused to change how an approved
    objective is measured (a settings binding differs from the one approved: revise
    the agreement instead); 2 for an unknown SOURCE; 1 when it failed otherwise.
    """
    from hub.domain.change_control import REFUSAL_EXIT_CODE, is_refusal
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
        refused = any(is_refusal(note) for note in run.notes)
        raise _fail(
            f"the sync of {source} failed: {run.error}", code=REFUSAL_EXIT_CODE if refused else 1
        )


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


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The backup file to write.")],
) -> None:
    """Copy everything the hub holds in the graph to FILE, while `hub serve` runs.

    On the embedded graph the copy is a point-in-time snapshot; on Neo4j, see the
    README's "Backup and restore". Progress goes to stderr, the summary to stdout.
    """
    from hub.graph.backup import BackupError, BackupFileError, backup

    settings = _settings()
    started = time.monotonic()
    try:
        header = backup(settings, file, progress=lambda line: typer.echo(line, err=True))
    except (BackupError, BackupFileError, GraphError) as exc:
        raise _fail(f"no backup was written: {exc}") from exc
    typer.echo(f"file: {file}")
    typer.echo(f"consistency: {header.consistency}")
    typer.echo(f"nodes: {header.nodes}")
    typer.echo(f"relationships: {header.relationships}")
    typer.echo(f"bytes: {file.stat().st_size}")
    typer.echo(f"duration: {time.monotonic() - started:.1f} s")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A file written by `hub backup`.")],
) -> None:
    """Load FILE into an empty graph (a new data directory, or an empty Neo4j database)."""
    from hub.graph.backup import BackupError, BackupFileError, RestoreRefusedError, restore

    settings = _settings()
    started = time.monotonic()
    try:
        summary = restore(settings, file, progress=lambda line: typer.echo(line, err=True))
    except (BackupFileError, RestoreRefusedError) as exc:
        raise _fail(str(exc)) from exc
    except (BackupError, GraphError) as exc:
        raise _fail(
            f"the restore failed: {exc}. The target holds part of the backup now: empty it "
            "(or use a new data directory) before restoring again"
        ) from exc
    typer.echo(f"nodes: {summary.nodes}")
    typer.echo(f"relationships: {summary.relationships}")
    if summary.migrations_applied:
        typer.echo(f"migrations applied: {', '.join(map(str, summary.migrations_applied))}")
    typer.echo(f"duration: {time.monotonic() - started:.1f} s")


def _duration(started: str, finished: str | None) -> str:
    if finished is None:
        return "unknown"
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return f"{seconds:.1f} s"


def main() -> None:
    app()
