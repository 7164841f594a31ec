"""The error-budget policy job on the real embedded graph (hub.sync.budget_policies):
actions once per episode and phase, recorded and audited with their outbox deliveries
in one transaction; the freeze set at EXHAUSTED and lifted when the budget recovers;
repeated and concurrent runs act once; REPORTED objectives are never acted on; a
breach prediction brings the AT_RISK actions forward."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from budget_policy_support import (
    AT_RISK_AT,
    EXHAUSTED_AT,
    HEALTHY_AT,
    LEVEL_2_EMAIL,
    OWNER_EMAIL,
    RECOVERED_AT,
    settings_for,
    shop,
)
from support import EDITOR, GraphBuilder

from hub.domain.budget import (
    DEFAULT_ALERT_PAIRS,
    NO_FORECAST,
    BudgetState,
    Forecast,
    ObjectiveStatus,
)
from hub.domain.budget_policy import ActionSpec, BudgetAction, BudgetPolicy, Decision
from hub.domain.models import Objective
from hub.domain.monitoring import MonitoringMode
from hub.domain.prediction import SEASONAL, BreachPrediction
from hub.domain.windows import Window
from hub.graph.client import Graph, Transaction
from hub.graph.cypher import budget_policies as cypher
from hub.graph.repositories.audit import AuditRepository
from hub.graph.repositories.budget_policies import (
    BudgetPolicyRepository,
    current_freeze,
    lift_freezes,
    set_freezes,
)
from hub.graph.repositories.ownership import OwnershipRepository
from hub.graph.repositories.prediction import ModelChoice, PredictionRepository
from hub.notify import NotificationRepository
from hub.sync.budget_policies import ACTOR, apply_budget_policies, apply_predictions, judge


async def test_at_risk_then_exhausted_acts_once_per_phase_and_recovery_lifts_the_freeze(
    graph: Graph, builder: GraphBuilder
) -> None:
    item = await shop(builder)
    settings = settings_for(item)
    only = [item.objective.id]
    repository = BudgetPolicyRepository(graph)

    healthy = await apply_budget_policies(graph, settings, HEALTHY_AT, objective_ids=only)
    at_risk = await apply_budget_policies(graph, settings, AT_RISK_AT, objective_ids=only)
    again = await apply_budget_policies(
        graph, settings, AT_RISK_AT + timedelta(minutes=5), objective_ids=only
    )
    exhausted = await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)
    still = await apply_budget_policies(
        graph, settings, EXHAUSTED_AT + timedelta(hours=1), objective_ids=only
    )

    assert (healthy.judged, healthy.taken, healthy.started) == (1, 0, 0)
    assert (at_risk.actions, at_risk.started, at_risk.notified, at_risk.problems) == (
        {"NOTIFY_OWNER": 1},
        1,
        2,  # the owner's address and the webhook
        [],
    )
    assert (again.taken, again.notified, still.taken, still.notified) == (0, 0, 0, 0)
    assert exhausted.actions == {
        "NOTIFY_OWNER": 1,
        "CHANGE_FREEZE": 1,
        "NOTIFY_ESCALATION_LEVEL:2": 1,
    }
    # The owner's notice tells of the freeze too: the freeze sends no second one.
    assert (exhausted.frozen, exhausted.started, exhausted.notified) == (1, 0, 3)

    actions = (await repository.actions_of(only))[item.objective.id]
    episode = f"{item.objective.id}#1"
    assert [(a.key, a.state, a.recipients) for a in actions] == [
        (f"{episode}|AT_RISK|NOTIFY_OWNER", "AT_RISK", (OWNER_EMAIL, "ops")),
        (f"{episode}|EXHAUSTED|CHANGE_FREEZE", "EXHAUSTED", (OWNER_EMAIL, "ops")),
        (f"{episode}|EXHAUSTED|NOTIFY_ESCALATION_LEVEL:2", "EXHAUSTED", (LEVEL_2_EMAIL,)),
        (f"{episode}|EXHAUSTED|NOTIFY_OWNER", "EXHAUSTED", (OWNER_EMAIL, "ops")),
    ]
    assert actions[0].budget_remaining is not None
    assert 90 < actions[0].budget_remaining < 95
    assert actions[1].budget_remaining is not None
    assert actions[1].budget_remaining <= 0
    frozen = current_freeze((await repository.freezes_of([item.service_id]))[item.service_id])
    assert frozen is not None
    assert (frozen.since, frozen.lifted_at, frozen.service_ids) == (
        EXHAUSTED_AT,
        None,
        (item.service_id,),
    )
    assert frozen.reason.startswith("error budget EXHAUSTED (")

    # A new month: the budget is whole again, the episode ends and the freeze lifts.
    recovered = await apply_budget_policies(graph, settings, RECOVERED_AT, objective_ids=only)
    assert (recovered.ended, recovered.lifted, recovered.taken) == (1, 1, 0)
    assert recovered.notified == 2  # the owner hears of the lift
    lifted = current_freeze((await repository.freezes_of([item.service_id]))[item.service_id])
    assert lifted is not None
    assert (lifted.id, lifted.lifted_at) == (frozen.id, RECOVERED_AT)
    episodes = await repository.latest_episodes(only)
    assert episodes[item.objective.id].ended_at == RECOVERED_AT
    assert (
        await apply_budget_policies(graph, settings, RECOVERED_AT, objective_ids=only)
    ).lifted == 0

    audited = [
        (r.action, r.actor)
        for r in await AuditRepository(graph).for_target(item.objective.id)
        if r.actor == ACTOR
    ]
    assert audited == [
        ("budget-policy.action", ACTOR),
        *[("budget-policy.action", ACTOR)] * 3,
        ("change-freeze.set", ACTOR),
        ("change-freeze.lift", ACTOR),
    ]
    deliveries = await NotificationRepository(graph).find(about=item.objective.id)
    assert sorted((d.kind, d.channel, d.target) for d in deliveries) == sorted(
        [
            ("budget.at-risk", "EMAIL", OWNER_EMAIL),
            ("budget.at-risk", "WEBHOOK", "ops"),
            ("budget.exhausted", "EMAIL", OWNER_EMAIL),
            ("budget.exhausted", "WEBHOOK", "ops"),
            ("budget.exhausted", "EMAIL", LEVEL_2_EMAIL),
            ("budget.freeze-lifted", "EMAIL", OWNER_EMAIL),
            ("budget.freeze-lifted", "WEBHOOK", "ops"),
        ]
    )


async def test_concurrent_runs_take_each_action_once(graph: Graph, builder: GraphBuilder) -> None:
    item = await shop(builder)
    settings = settings_for(item)
    only = [item.objective.id]

    reports = await asyncio.gather(
        *(
            apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)
            for _ in range(3)
        )
    )

    # Straight to EXHAUSTED: its three actions (owner, freeze, level 2), once in all.
    assert sum(r.taken for r in reports) == 3
    assert sum(r.frozen for r in reports) == 1
    assert sum(r.notified for r in reports) == 3
    actions = (await BudgetPolicyRepository(graph).actions_of(only))[item.objective.id]
    assert len(actions) == 3
    deliveries = await NotificationRepository(graph).find(about=item.objective.id)
    assert len(deliveries) == 3
    freezes = (await BudgetPolicyRepository(graph).freezes_of([item.service_id]))[item.service_id]
    assert len(freezes) == 1


async def test_reported_objectives_are_never_acted_on(graph: Graph, builder: GraphBuilder) -> None:
    item = await shop(builder, mode=MonitoringMode.REPORTED)
    settings = settings_for(item)

    report = await apply_budget_policies(
        graph, settings, EXHAUSTED_AT, objective_ids=[item.objective.id]
    )

    assert (report.objectives, report.judged, report.taken) == (1, 0, 0)
    assert await BudgetPolicyRepository(graph).actions_of([item.objective.id]) == {}


async def test_an_agreement_policy_overrides_the_tier(graph: Graph, builder: GraphBuilder) -> None:
    item = await shop(builder)
    settings = settings_for(
        item,
        agreements={
            item.sla_id: {
                "at_risk": [{"action": "NOTIFY_ESCALATION_LEVEL", "level": 2}],
                "exhausted": [],
            }
        },
    )
    only = [item.objective.id]

    at_risk = await apply_budget_policies(graph, settings, AT_RISK_AT, objective_ids=only)
    exhausted = await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)

    assert at_risk.actions == {"NOTIFY_ESCALATION_LEVEL:2": 1}
    assert (exhausted.taken, exhausted.frozen) == (0, 0)


async def test_a_predicted_breach_takes_the_at_risk_actions_with_the_prediction(
    graph: Graph, builder: GraphBuilder
) -> None:
    item = await shop(builder)
    settings = settings_for(item)
    prediction = BreachPrediction(
        objective_id=item.objective.id,
        model="seasonal",
        made_at=HEALTHY_AT,
        exhausted_at=HEALTHY_AT + timedelta(days=5),
        window_ends_at=HEALTHY_AT + timedelta(days=23),
        probability=0.85,
    )

    report = await apply_predictions(graph, settings, [prediction], HEALTHY_AT)
    later = await apply_budget_policies(
        graph, settings, AT_RISK_AT, objective_ids=[item.objective.id]
    )

    assert report.actions == {"NOTIFY_OWNER": 1}
    assert later.taken == 0  # the same episode: AT_RISK was acted on already
    [action] = (await BudgetPolicyRepository(graph).actions_of([item.objective.id]))[
        item.objective.id
    ]
    assert (action.phase, action.state) == ("AT_RISK", "HEALTHY")
    assert (
        action.prediction_model,
        action.predicted_exhausted_at,
        action.prediction_probability,
    ) == ("seasonal", prediction.exhausted_at, 0.85)
    [mail] = [
        d
        for d in await NotificationRepository(graph).find(about=item.objective.id)
        if d.channel == "EMAIL"
    ]
    assert "Predicted breach: the seasonal model predicts" in mail.body


async def test_the_run_asks_its_predictor_about_the_objectives_it_acts_on(
    graph: Graph, builder: GraphBuilder
) -> None:
    """The scheduled run's predictor (`PredictionEngine`) is asked about the objectives
    it acts on whose backtest chose the learned model, with the choices the run read;
    what it predicts takes AT_RISK's actions."""
    item = await shop(builder)
    settings = settings_for(item)
    asked: list[tuple[list[str], dict[str, str]]] = []

    async def predictor(
        objectives: Sequence[Objective], at: datetime, models: Mapping[str, str]
    ) -> dict[str, BreachPrediction]:
        asked.append(([o.id for o in objectives], dict(models)))
        return {
            item.objective.id: BreachPrediction(
                objective_id=item.objective.id,
                model="seasonal",
                made_at=at,
                exhausted_at=at + timedelta(days=3),
                window_ends_at=at + timedelta(days=20),
            )
        }

    linear = await apply_budget_policies(
        graph, settings, HEALTHY_AT, objective_ids=[item.objective.id], predictor=predictor
    )
    assert (asked, linear.taken) == ([], 0)  # the linear forecast is the status's own
    evidence = {"from": "2026-01-01T00:00:00Z", "episodes": 2}
    await PredictionRepository(graph).record([ModelChoice(item.objective.id, SEASONAL, evidence)])

    report = await apply_budget_policies(
        graph, settings, HEALTHY_AT, objective_ids=[item.objective.id], predictor=predictor
    )

    assert asked == [([item.objective.id], {item.objective.id: SEASONAL})]
    assert report.actions == {"NOTIFY_OWNER": 1}
    [action] = (await BudgetPolicyRepository(graph).actions_of([item.objective.id]))[
        item.objective.id
    ]
    assert (action.phase, action.prediction_model) == ("AT_RISK", "seasonal")


async def test_a_freeze_is_lifted_after_the_objective_was_made_reported(
    graph: Graph, builder: GraphBuilder
) -> None:
    item = await shop(builder)
    settings = settings_for(item)
    only = [item.objective.id]
    await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)
    await OwnershipRepository(graph).set_ownership(
        item.objective.id,
        provider_team_id=item.team_id,
        consumer_team_id=None,
        mode=MonitoringMode.REPORTED,
        actor=EDITOR,
        reason="demoted to reports while its metric is fixed",
    )

    recovered = await apply_budget_policies(graph, settings, RECOVERED_AT, objective_ids=only)

    assert (recovered.judged, recovered.taken, recovered.lifted) == (0, 0, 1)
    [freeze] = (await BudgetPolicyRepository(graph).freezes_of([item.service_id]))[item.service_id]
    assert freeze.lifted_at == RECOVERED_AT


async def test_a_freeze_set_at_risk_holds_while_the_objective_stays_at_risk(
    graph: Graph, builder: GraphBuilder
) -> None:
    item = await shop(builder)
    freezing = {"at_risk": [{"action": "CHANGE_FREEZE"}], "exhausted": []}
    settings = settings_for(item, tiers={"TIER_1": freezing})
    only = [item.objective.id]

    set_at = await apply_budget_policies(graph, settings, AT_RISK_AT, objective_ids=only)
    later = await apply_budget_policies(
        graph, settings, AT_RISK_AT + timedelta(minutes=5), objective_ids=only
    )
    exhausted = await apply_budget_policies(graph, settings, EXHAUSTED_AT, objective_ids=only)
    recovered = await apply_budget_policies(graph, settings, RECOVERED_AT, objective_ids=only)

    # AT_RISK with about 90 % of the budget left: above 25 %, yet still AT_RISK.
    assert (set_at.frozen, later.lifted, exhausted.lifted, recovered.lifted) == (1, 0, 0, 1)


def _status(state: BudgetState, *, firing: bool, forecast: Forecast) -> ObjectiveStatus:
    """A hand-made status: 80 % of the budget left."""
    start = datetime(2026, 3, 1, tzinfo=HEALTHY_AT.tzinfo)
    return ObjectiveStatus(
        window=Window(start, start + timedelta(days=31)),
        good=99_800.0,
        total=100_000.0,
        compliance=99.8,
        data_coverage=100.0,
        budget_remaining=80.0,
        state=state,
        burn_rates=(),
        firing=DEFAULT_ALERT_PAIRS[:1] if firing else (),
        forecast=forecast,
    )


def test_a_learned_model_replaces_the_forecast_of_the_objectives_it_was_chosen_for() -> None:
    policy = BudgetPolicy(at_risk=(ActionSpec(BudgetAction.NOTIFY_OWNER),))
    runs_out = Forecast(at=HEALTHY_AT + timedelta(days=5))
    forecast_only = _status(BudgetState.AT_RISK, firing=False, forecast=runs_out)
    alerted = _status(BudgetState.AT_RISK, firing=True, forecast=NO_FORECAST)
    learned_prediction = BreachPrediction(
        "obj",
        "seasonal",
        HEALTHY_AT,
        HEALTHY_AT + timedelta(days=2),
        HEALTHY_AT + timedelta(days=20),
    )

    def decided(
        status: ObjectiveStatus, learned: bool, prediction: BreachPrediction | None = None
    ) -> Decision:
        return judge(
            status,
            policy,
            None,
            HEALTHY_AT,
            objective_id="obj",
            acts=True,
            learned=learned,
            prediction=prediction,
            freeze_active=False,
        )

    # Learned-chosen, the forecast alone says AT_RISK, the model predicts nothing: HEALTHY.
    ignored = decided(forecast_only, learned=True)
    assert (ignored.state, ignored.episode, ignored.actions) == (BudgetState.HEALTHY, None, ())
    # An alert pair still makes AT_RISK; so does the learned model's prediction.
    assert [a.key for a in decided(alerted, learned=True).actions] == ["obj#1|AT_RISK|NOTIFY_OWNER"]
    [predicted] = decided(forecast_only, learned=True, prediction=learned_prediction).actions
    assert predicted.prediction == learned_prediction
    # Where the linear forecast was kept, its AT_RISK counts.
    assert [a.key for a in decided(forecast_only, learned=False).actions] == [
        "obj#1|AT_RISK|NOTIFY_OWNER"
    ]
    exhausted = _status(BudgetState.EXHAUSTED, firing=False, forecast=NO_FORECAST)
    assert decided(exhausted, learned=True).state is BudgetState.EXHAUSTED


async def test_racing_lifts_lift_and_audit_each_freeze_once(
    graph: Graph, builder: GraphBuilder
) -> None:
    item = await shop(builder)
    keys = [f"{item.objective.id}#race{n}" for n in range(25)]
    rows = [
        {
            "key": key,
            "props": {
                "id": f"frz_{n}",
                "key": key,
                "objectiveId": item.objective.id,
                "serviceIds": [item.service_id],
                "reason": "race",
                "since": "2026-03-10T07:00:00Z",
                "liftedAt": None,
            },
        }
        for n, key in enumerate(keys)
    ]

    async def write(tx: Transaction) -> set[str]:
        return await set_freezes(tx, rows)

    assert await graph.write_transaction(write) == set(keys)

    async def lift(key: str) -> set[str]:
        async def work(tx: Transaction) -> set[str]:
            return await lift_freezes(
                tx, [{"key": key, "at": "2026-04-02T00:00:00Z", "reason": "r"}]
            )

        return await graph.write_transaction(work)

    for key in keys:
        results = await asyncio.gather(*(lift(key) for _ in range(4)))
        assert sum(len(r) for r in results) == 1, key
    freezes = (await BudgetPolicyRepository(graph).freezes_of([item.service_id]))[item.service_id]
    assert sorted(f.key for f in freezes) == sorted(keys)
    assert all(f.lifted_at == RECOVERED_AT for f in freezes)


def test_freezes_are_found_by_indexed_properties_only() -> None:
    """Every match of a ChangeFreeze goes through its unique key or its indexed
    objective id: no statement scans all freezes."""
    for name in dir(cypher):
        text = " ".join(str(getattr(cypher, name)).split())
        if name.startswith(("NODES_", "RESTORE_")):
            continue
        for at in range(len(text)):
            if text.startswith("MATCH (f:ChangeFreeze", at):
                rest = text[at + len("MATCH (f:ChangeFreeze") :]
                assert rest.startswith((" {key:", " {objectiveId:")), (name, rest[:40])
