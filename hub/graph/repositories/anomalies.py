"""Report anomalies in the graph: recorded once per subject and period, read in scope.

A service's anomaly is read with its service (`hub.graph.cypher.scope.service_visible`);
a business unit's by tokens of that unit that are not limited by region (its figures
span its regions). Customer tokens read none: anomalies are internal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.access import UNLIMITED, Scope
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import distribution as q
from hub.graph.ids import from_iso, new_id, to_iso


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    id: str
    key: str
    at: datetime
    period_start: datetime
    compliance: float
    baseline: float
    detail: str
    service_id: str | None = None
    business_unit: str | None = None
    region: str | None = None
    kinds: tuple[str, ...] = ()


def anomaly_key(service_id: str | None, business_unit: str | None, period_start: datetime) -> str:
    """One anomaly per (service | unit, period)."""
    subject = f"service:{service_id}" if service_id is not None else f"unit:{business_unit}"
    return f"{subject}|{to_iso(period_start)}"


def new_anomaly(
    *,
    at: datetime,
    period_start: datetime,
    compliance: float,
    baseline: float,
    detail: str,
    service_id: str | None = None,
    business_unit: str | None = None,
    region: str | None = None,
    kinds: tuple[str, ...] = (),
) -> AnomalyRecord:
    return AnomalyRecord(
        id=new_id("ReportAnomaly"),
        key=anomaly_key(service_id, business_unit, period_start),
        at=at,
        period_start=period_start,
        compliance=compliance,
        baseline=baseline,
        detail=detail,
        service_id=service_id,
        business_unit=business_unit,
        region=region,
        kinds=kinds,
    )


def _props(anomaly: AnomalyRecord) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "key": anomaly.key,
        "at": to_iso(anomaly.at),
        "periodStart": to_iso(anomaly.period_start),
        "compliance": anomaly.compliance,
        "baseline": anomaly.baseline,
        "detail": anomaly.detail,
        "serviceId": anomaly.service_id,
        "businessUnit": anomaly.business_unit,
        "region": anomaly.region,
        "kinds": list(anomaly.kinds),
    }


def _from_props(props: dict[str, Any]) -> AnomalyRecord:
    at, start = from_iso(props["at"]), from_iso(props["periodStart"])
    assert at is not None
    assert start is not None
    return AnomalyRecord(
        id=props["id"],
        key=props["key"],
        at=at,
        period_start=start,
        compliance=float(props["compliance"]),
        baseline=float(props["baseline"]),
        detail=props["detail"],
        service_id=props.get("serviceId"),
        business_unit=props.get("businessUnit"),
        region=props.get("region"),
        kinds=tuple(props.get("kinds") or ()),
    )


async def record_anomalies(
    tx: Transaction, anomalies: Sequence[AnomalyRecord]
) -> dict[str, tuple[str, bool]]:
    """Record, in one statement of the caller's transaction, each anomaly whose key is not
    recorded yet: by key, the id of the one kept and whether this call created it."""
    claim = uuid.uuid4().hex
    rows = await tx.run(
        q.RECORD_ANOMALIES,
        rows=[{"key": a.key, "props": _props(a)} for a in anomalies],
        claim=claim,
    )
    return {str(row["key"]): (str(row["id"]), bool(row["fresh"])) for row in rows}


class AnomalyRepository:
    def __init__(self, graph: Graph, scope: Scope = UNLIMITED) -> None:
        self._graph = graph
        self._scope = scope

    async def between(
        self, start: datetime | None, end: datetime | None, limit: int = 500
    ) -> list[AnomalyRecord]:
        """Anomalies of periods starting in [start, end), newest period first."""
        rows = await self._graph.read(
            q.REPORT_ANOMALIES,
            limit=limit,
            **{
                "from": None if start is None else to_iso(start),
                "to": None if end is None else to_iso(end),
            },
            **self._scope.params(),
        )
        return [_from_props(row["anomaly"]) for row in rows]

    async def by_ids(self, ids: list[str]) -> dict[str, AnomalyRecord]:
        """The anomalies with these ids that the token may read."""
        if not ids:
            return {}
        rows = await self._graph.read(
            q.REPORT_ANOMALIES_BY_IDS, ids=list(ids), **self._scope.params()
        )
        found = [_from_props(row["anomaly"]) for row in rows]
        return {a.id: a for a in found}
