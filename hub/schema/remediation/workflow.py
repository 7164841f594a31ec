"""The remediation workflow of violations: `violationsOf`, `recordRootCause`,
`proposeTargetRevision`, and what a Violation says of its remediation (its state,
deadlines, evidence and proposed revision). Resolvers stay thin: the states are
`hub.domain.remediation`'s, the reads and writes `hub.graph.repositories.remediation`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import AgreementKind
from hub.domain.remediation import RemediationStatus
from hub.domain.windows import Window
from hub.engine.root_cause import NotAnSlaError
from hub.graph.errors import NotFoundError
from hub.graph.ids import to_iso
from hub.graph.repositories.remediation import (
    EvidenceRecord,
    Remediation,
    RemediationRepository,
    remediation_key,
)
from hub.graph.repositories.violations import Violation as ViolationRecord
from hub.schema.base import Connection, DateTime, connection, decode_cursor
from hub.schema.context import Context, Info, loader
from hub.schema.permissions import IsEditor

if TYPE_CHECKING:
    from hub.schema.agreements.types import Agreement
    from hub.schema.service_levels.types import RootCauseCandidate, Violation

ViolationStatus = strawberry.enum(RemediationStatus, name="ViolationStatus")


@strawberry.type(description="What the hub saw when it found or revised a violation, frozen.")
class Evidence:
    recorded_at: DateTime
    sha256: str = strawberry.field(description="SHA-256 of `content`'s UTF-8 bytes, hex.")
    content: str = strawberry.field(
        description="Canonical JSON (keys sorted, no spaces): per-day good/total, the "
        "incidents counted, the agreement version, the bindings, the verdict."
    )

    @classmethod
    def from_record(cls, record: EvidenceRecord) -> Evidence:
        return cls(recorded_at=record.recorded_at, sha256=record.sha256, content=record.content)


def repository(context: Context) -> RemediationRepository:
    assert context.remediation is not None
    r = context.remediation
    return RemediationRepository(r.graph, r.scope, r.clock)


def _by_key(context: Context) -> DataLoader[str, Remediation | None]:
    remediations = repository(context)

    async def load(keys: list[str]) -> list[Remediation | None]:
        found = await remediations.by_keys(keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=load)


def _evidence(context: Context) -> DataLoader[str, list[EvidenceRecord]]:
    remediations = repository(context)

    async def load(ids: list[str]) -> list[list[EvidenceRecord]]:
        found = await remediations.evidence_of(ids)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _target_revisions(context: Context) -> DataLoader[str, str | None]:
    remediations = repository(context)

    async def load(ids: list[str]) -> list[str | None]:
        found = await remediations.target_revisions_of(ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def remediation_of(info: Info, record_key: str) -> Remediation | None:
    """The remediation of a violated period, batched per request."""
    return await loader(info, "remediation.by_key", _by_key).load(record_key)


async def evidence_of(info: Info, remediation: Remediation) -> list[Evidence]:
    found = await loader(info, "remediation.evidence", _evidence).load(remediation.id)
    return [Evidence.from_record(e) for e in found]


async def target_revision_of(info: Info, remediation: Remediation) -> Agreement | None:
    from hub.schema.agreements.types import agreement_type

    draft_id = await loader(info, "remediation.target", _target_revisions).load(remediation.id)
    if draft_id is None:
        return None
    found = await info.context.loaders.agreement.load(draft_id)
    return None if found is None else agreement_type(found)


async def suggested_root_cause(
    info: Info, agreement_id: str, period: Window
) -> RootCauseCandidate | None:
    """The `rootCause` ranking's top candidate over a violation's period: shown as a
    suggestion, never applied."""
    from hub.schema.components.types import load_components
    from hub.schema.service_levels.types import RootCauseCandidate

    try:
        candidates = await info.context.service_levels.root_cause(
            agreement_id, period, info.context.api.max_traversal_depth
        )
    except NotAnSlaError:
        return None  # OLAs and UCs have no chain of their own to rank
    for candidate in candidates:
        found = {str(c.id): c for c in await load_components(info, list(candidate.path))}
        if candidate.component_id in found:
            return RootCauseCandidate(
                component=found[candidate.component_id],
                path=[found[i] for i in candidate.path if i in found],
                incidents=candidate.incidents,
                score=candidate.score,
            )
    return None


async def _violation_and_remediation(
    info: Info, violation_id: str
) -> tuple[ViolationRecord, Remediation]:
    """A violation revision the token may read and its period's remediation; NOT_FOUND
    for anything else, exactly as for an unknown id."""
    found = await info.context.service_levels.violations_by_ids([violation_id])
    record = found.get(violation_id)
    if record is None:
        raise NotFoundError("violation", violation_id)
    remediation = await remediation_of(info, violation_key(record))
    if remediation is None:
        raise NotFoundError("violation", violation_id)
    return record, remediation


def violation_key(record: ViolationRecord) -> str:
    """The remediation key of a violation revision (its period)."""
    return remediation_key(record.agreement_id, record.objective_id, to_iso(record.period_start))


def _violations(records: Sequence[dict[str, object]]) -> list[Violation]:
    from hub.schema.service_levels.types import Violation

    return [Violation.from_record(ViolationRecord.from_props(dict(r))) for r in records]


@strawberry.type
class RemediationQueries:
    @strawberry.field(
        description="Violations of SLAs, OLAs and UCs by agreement kind and remediation "
        "state: the current revision of each violated period (the last one, when VOID), "
        "by id."
    )
    async def violations_of(
        self,
        info: Info,
        kind: list[AgreementKind] | None = None,
        status: list[ViolationStatus] | None = None,  # type: ignore[valid-type]
        first: int | None = 50,
        after: str | None = None,
        agreement_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this agreement version's violations."),
        ] = None,
    ) -> Connection[Annotated[Violation, strawberry.lazy("hub.schema.service_levels.types")]]:
        size = info.context.page_size(first)
        found = await repository(info.context).violations_of(
            None if kind is None else [str(k) for k in kind],
            None if status is None else [RemediationStatus(s) for s in status],
            agreement_id=None if agreement_id is None else str(agreement_id),
            after=decode_cursor(after),
            limit=size + 1,
        )
        return connection(_violations(found), [str(v["id"]) for v in found], size)


@strawberry.type
class RemediationMutations:
    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Records the root cause of a violation (OPEN -> ACTIONS_OPEN), naming "
        "the components found at fault if given; recording it again replaces it. A "
        "CLOSED or VOID violation's root cause no longer changes.",
    )
    async def record_root_cause(
        self,
        info: Info,
        violation_id: strawberry.ID,
        summary: str,
        component_ids: list[strawberry.ID] | None = None,
    ) -> Annotated[Violation, strawberry.lazy("hub.schema.service_levels.types")]:
        from hub.schema.components.types import load_components
        from hub.schema.service_levels.types import Violation

        record, remediation = await _violation_and_remediation(info, str(violation_id))
        named = [str(c) for c in component_ids or ()]
        if named:
            known = {str(c.id) for c in await load_components(info, named)}
            unknown = [i for i in named if i not in known]
            if unknown:
                raise InvalidInputError(
                    [FieldProblem("componentIds", f"no component {unknown[0]}")]
                )
        await repository(info.context).record_root_cause(
            remediation, summary, named, info.context.actor
        )
        info.context.loader_cache.pop("remediation.by_key", None)
        return Violation.from_record(record)

    @strawberry.mutation(
        permission_classes=[IsEditor],
        description="Proposes new objectives for the violated agreement: a DRAFT revision "
        "of its latest version, through the usual review and approval, with the "
        "violation as its reason.",
    )
    async def propose_target_revision(
        self,
        info: Info,
        violation_id: strawberry.ID,
        objectives: list[
            Annotated[ObjectiveInput, strawberry.lazy("hub.schema.agreements.mutations")]
        ],
        reason: str,
    ) -> Annotated[Agreement, strawberry.lazy("hub.schema.agreements.types")]:
        from hub.schema.agreements.mutations import AgreementRevisionInput, _revision
        from hub.schema.agreements.types import agreement_type

        record, remediation = await _violation_and_remediation(info, str(violation_id))
        if not reason.strip():
            raise InvalidInputError([FieldProblem("reason", "say why the target should change")])
        agreements = info.context.agreements
        version = await agreements.get(record.agreement_id)
        lineage = version.lineage or version.id
        latest = max(
            (await agreements.versions_by_lineages([lineage])).get(lineage, [version]),
            key=lambda a: a.version,
        )
        revision = _revision(AgreementRevisionInput(objectives=list(objectives)))
        why = f"{reason.strip()} (violation {record.id})"
        try:
            draft_id = await agreements.revise(latest.id, revision, info.context.actor, why)
        except InvalidInputError as exc:
            raise InvalidInputError(
                [
                    p if p.field == "reason" else FieldProblem(f"{p.field}", p.message)
                    for p in exc.problems
                ]
            ) from exc
        await repository(info.context).link_target_revision(
            remediation, draft_id, info.context.actor
        )
        return agreement_type(await agreements.get(draft_id))


if TYPE_CHECKING:
    from hub.schema.agreements.mutations import ObjectiveInput
