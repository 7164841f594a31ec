"""The breach-prediction model each objective's backtest chose (`hub slo backtest`),
and the evidence behind it, kept on the objective (hub.domain.prediction)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.domain.audit import AuditEntry
from hub.domain.prediction import LINEAR, MODELS, ObjectiveBacktest, score
from hub.domain.workflow import Actor
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import prediction as q
from hub.graph.ids import to_iso
from hub.graph.repositories.audit import write_audits

__all__ = ["BACKTEST_ACTOR", "ModelChoice", "PredictionRepository"]

BACKTEST_ACTOR = "system:backtest"
"""Who records a backtest's choices when no person is named (`hub slo backtest`)."""

# Rows per write statement: a fleet's choices go in a few round trips.
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model that predicts an objective's breaches, and the backtest behind it
    (`evidence`: the span replayed, the episodes seen and each model's F1)."""

    objective_id: str
    model: str
    evidence: dict[str, Any]


def evidence(result: ObjectiveBacktest, start: datetime, end: datetime) -> dict[str, Any]:
    """What is kept of one objective's backtest beside the model it chose."""
    scores = {m: score(m, result.days, i) for i, m in enumerate(MODELS)}
    return {
        "from": to_iso(start),
        "to": to_iso(end),
        "days": len(result.days),
        "episodes": result.episodes,
        "f1": {m: s.f1 for m, s in scores.items()},
    }


def _audit(
    actor: Actor | str,
    choices: Sequence[ModelChoice],
    before: Counter[str],
    last: Counter[str],
) -> AuditEntry:
    """The audit entry of one recorded run: its span (the evidence's) and the count of
    objectives written per model, by the batches `before` the last one and the `last`."""
    models = before + last
    starts = sorted(str(c.evidence["from"]) for c in choices if "from" in c.evidence)
    ends = sorted(str(c.evidence["to"]) for c in choices if "to" in c.evidence)
    return AuditEntry.of(
        actor,
        "backtest.record",
        None,
        reason="breach-prediction backtest",
        after={
            "from": starts[0] if starts else None,
            "to": ends[-1] if ends else None,
            "objectives": models.total(),
            "models": dict(sorted(models.items())),
        },
    )


class PredictionRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        # The access checkpoint: objectives are read and changed through `self._scope`.
        self._graph = graph
        self._scope = scope

    async def record(
        self, choices: Sequence[ModelChoice], actor: Actor | str = BACKTEST_ACTOR
    ) -> int:
        """Keep each objective's chosen model (idempotent: a rerun sets the same values);
        returns how many objectives were written (ones gone are skipped).

        The run is audited once, by `actor`, in the transaction of its last batch
        (`backtest.record`: the span replayed and how many objectives each model got)."""
        batches = [choices[first : first + _BATCH] for first in range(0, len(choices), _BATCH)]
        models: Counter[str] = Counter()
        for number, batch in enumerate(batches, start=1):
            rows = [
                {
                    "id": c.objective_id,
                    "model": c.model,
                    "backtest": json.dumps(c.evidence, sort_keys=True),
                }
                for c in batch
            ]
            audit = None
            if number == len(batches):
                audit = partial(_audit, actor, choices, models.copy())
            models += await self._graph.write_transaction(partial(self._write, rows, audit))
        return models.total()

    async def _write(
        self,
        rows: list[dict[str, Any]],
        audit: Callable[[Counter[str]], AuditEntry] | None,
        tx: Transaction,
    ) -> Counter[str]:
        """One batch; the run's audit entry too if `audit` (given this batch's models)."""
        found = await tx.run(q.SET_PREDICTION_MODELS, rows=rows, **self._scope.params())
        written = Counter[str](found[0]["models"] if found else [])
        if audit is not None:
            await write_audits(tx, [audit(written)])
        return written

    async def models(self, ids: Sequence[str]) -> dict[str, str]:
        """The model chosen for each objective in scope; `LINEAR` where no backtest chose."""
        rows = await self._graph.read(q.PREDICTION_MODELS, ids=list(ids), **self._scope.params())
        found = {row["id"]: row["model"] for row in rows if row["model"] in MODELS}
        return {i: found.get(i, LINEAR) for i in ids}

    async def choices(self, ids: Sequence[str]) -> dict[str, ModelChoice]:
        """The recorded choice of each objective in scope that has one."""
        rows = await self._graph.read(q.PREDICTION_MODELS, ids=list(ids), **self._scope.params())
        return {
            row["id"]: ModelChoice(row["id"], row["model"], json.loads(row["backtest"] or "{}"))
            for row in rows
        }
