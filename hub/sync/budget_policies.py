"""Error-budget policies that act: a scheduled job inside `hub serve` (after each
assessment, and every `[slo.budget_policies] interval_minutes`) that takes the actions
of each ACTIVE-mode objective's policy once per episode (`hub.domain.budget_policy`).

One run reads the objectives (one statement), their latest episodes and freezes in
force (two), measures their statuses in batches (`StatusEngine`), decides with the
domain rules, then writes in batches: each batch is one write transaction that MERGEs
the episodes, the `PolicyAction`s and `ChangeFreeze`s on their unique keys, lifts the
freezes whose budget recovered, audits each action and freeze (actor
"system:budget-policy") and enqueues the notifications through the outbox (dedupe key
= action key). A repeated run, a restarted hub or two hub processes on one graph never
take an action twice: one another run recorded first is neither audited nor notified.

REPORTED objectives are never acted on (no episode, action or freeze); an objective
without a policy (no tier, or a tier the settings leave out, and no agreement policy)
neither. The one thing done for them: a freeze set while the objective was acted on is
still lifted (audited, the owners told) once it is HEALTHY with its budget above the
threshold.

For an objective whose backtest chose a learned model (`hub slo backtest`) the learned
prediction replaces the linear forecast: its status's forecast-only AT_RISK counts as
HEALTHY (`hub.domain.budget_policy.measured_state`).

    report = await apply_budget_policies(graph, settings, datetime.now(UTC))
    # with predictions (hub.domain.prediction): a predicted breach takes AT_RISK's actions
    report = await apply_predictions(graph, settings, predictions, datetime.now(UTC))
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.domain.audit import AuditEntry
from hub.domain.budget import BudgetState, ObjectiveStatus
from hub.domain.budget_policy import (
    ActionSpec,
    BudgetAction,
    BudgetPolicy,
    Decision,
    DueAction,
    Episode,
    decide,
    measured_state,
)
from hub.domain.models import Objective
from hub.domain.monitoring import is_alerted
from hub.domain.notifications import Notification, NotificationError
from hub.domain.prediction import LINEAR, BreachPrediction
from hub.engine.prediction import PredictionEngine
from hub.engine.status import StatusEngine
from hub.graph.client import Graph, Transaction
from hub.graph.ids import to_iso
from hub.graph.repositories.audit import write_audits
from hub.graph.repositories.budget_policies import (
    BudgetPolicyRepository,
    PolicyObjective,
    lift_freezes,
    new_record_id,
    record_actions,
    set_freezes,
    write_episodes,
)
from hub.graph.repositories.notifications import write_notifications
from hub.graph.repositories.prediction import PredictionRepository
from hub.graph.repositories.sync import SyncRepository
from hub.notify.outbox import Outbox, Prepared
from hub.settings import BudgetPoliciesSettings, BudgetPolicySettings, Settings
from hub.sync.escalations import recipients_of
from hub.sync.lease import held_lease

__all__ = [
    "ACTOR",
    "LEASE",
    "BudgetPolicyReport",
    "apply_budget_policies",
    "apply_predictions",
    "judge",
    "policy_of",
    "run_scheduled_budget_policies",
]

log = logging.getLogger(__name__)

# Breach predictions by objective id of the objectives given, as of an instant, each
# by its chosen model (the models by objective id, as the job read them).
Predictor = Callable[
    [Sequence[Objective], datetime, Mapping[str, str]], Awaitable[Mapping[str, BreachPrediction]]
]

ACTOR = "system:budget-policy"
LEASE = "budget-policies"  # the sync lease that keeps runs of several hubs apart
KINDS = {BudgetState.AT_RISK: "budget.at-risk", BudgetState.EXHAUSTED: "budget.exhausted"}
LIFT_KIND = "budget.freeze-lifted"
# Objectives measured at once: a bounded read of their buckets per batch.
MEASURE_BATCH = 500
# Decisions per write transaction: each brings an episode, a few actions with their
# audit records and deliveries; well under the Bolt message limit.
WRITE_BATCH = 500


@dataclass(slots=True)
class BudgetPolicyReport:
    """What one run did: objectives read and acted on (ACTIVE with a policy), episodes
    started and ended, actions taken (by action), deliveries enqueued, freezes set and
    lifted, and problems (an owner or level the settings cannot reach)."""

    objectives: int = 0
    judged: int = 0
    started: int = 0
    ended: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    notified: int = 0
    frozen: int = 0
    lifted: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def taken(self) -> int:
        return sum(self.actions.values())

    def __str__(self) -> str:
        taken = ", ".join(f"{k}: {v}" for k, v in sorted(self.actions.items()))
        return (
            f"{self.taken} actions ({taken or 'none'}) on {self.judged} of {self.objectives} "
            f"objectives, {self.started} episodes started, {self.ended} ended, "
            f"{self.frozen} freezes set, {self.lifted} lifted, {self.notified} notifications"
            + (f", {len(self.problems)} problems" if self.problems else "")
        )


def _policy(configured: BudgetPolicySettings) -> BudgetPolicy:
    def specs(items: Iterable[Any]) -> tuple[ActionSpec, ...]:
        return tuple(ActionSpec(a.action, a.level) for a in items)

    return BudgetPolicy(
        at_risk=specs(configured.at_risk),
        exhausted=specs(configured.exhausted),
        freeze_lift_percent=configured.freeze_lift_percent,
    )


def policy_of(item: PolicyObjective, settings: BudgetPoliciesSettings) -> BudgetPolicy | None:
    """The objective's policy: its agreement's (by version id, then lineage), else its
    tier's; None without either."""
    for key in (item.agreement_id, item.lineage):
        if key is not None and key in settings.agreements:
            return _policy(settings.agreements[key])
    if item.tier is not None and item.tier in settings.tiers:
        return _policy(settings.tiers[item.tier])
    return None


def _owner_recipients(item: PolicyObjective, settings: Settings) -> tuple[list[str], list[str]]:
    """Who the owner teams are reached at (`[slo.budget_policies] owners`, by team id
    or name), and the problems."""
    owners = settings.slo.budget_policies.owners
    found: list[str] = []
    problems: list[str] = []
    if not item.owners:
        problems.append("it has no owner team (setObjectiveOwnership)")
    for team in item.owners:
        names = owners.get(team.id) or (owners.get(team.name) if team.name else None)
        if names:
            found.extend(n for n in names if n not in found)
        else:
            problems.append(
                f"owner team {team.name or team.id} has no recipients in "
                "[slo.budget_policies] owners"
            )
    return found, problems


def _level_recipients(
    level: int, item: PolicyObjective, settings: Settings
) -> tuple[list[str], str | None, list[str]]:
    levels = settings.remediation.escalation_levels
    if level > len(levels):
        return [], None, [f"level {level} is beyond the {len(levels)} escalation levels"]
    entry = levels[level - 1]
    found = list(entry.recipients)
    for unit in item.units:
        found.extend(n for n in entry.business_units.get(unit, ()) if n not in found)
    problems = [] if found else [f"level {level} ({entry.name}) names no recipients"]
    return found, entry.name, problems


def _remaining(status: ObjectiveStatus) -> str:
    value = status.budget_remaining
    return "unknown" if value is None else f"{value:.2f}%"


def _what(item: PolicyObjective) -> str:
    name = item.objective.name or f"{item.objective.indicator} {item.objective.target}%"
    where = item.owner_name or ", ".join(item.service_names) or "?"
    return f"objective {name} of {where}"


def _reason(item: PolicyObjective, status: ObjectiveStatus, action: DueAction) -> str:
    reason = f"error budget {action.phase} ({_remaining(status)} left) of {_what(item)}"
    if action.prediction is not None:
        p = action.prediction
        reason += (
            f"; predicted by {p.model} to run out at {to_iso(p.exhausted_at)}, before the "
            f"window ends at {to_iso(p.window_ends_at)}"
        )
    return reason


def _message(
    item: PolicyObjective,
    status: ObjectiveStatus,
    action: DueAction,
    freeze: bool,
    level_name: str | None,
) -> tuple[str, str, dict[str, Any]]:
    phase = "at risk" if action.phase is BudgetState.AT_RISK else "exhausted"
    subject = f"Error budget {phase}: {_what(item)}"
    if freeze:
        subject += " (change freeze)"
    lines = [
        f"The error budget of {_what(item)} is {phase}: {_remaining(status)} left "
        f"(state {status.state}).",
        "",
        f"Objective: {item.objective.id}",
        f"Window: {to_iso(status.window.start)} to {to_iso(status.window.end)}",
    ]
    if item.agreement_id:
        lines.append(f"Agreement: {item.owner_name} ({item.agreement_id})")
    if item.service_names:
        lines.append(f"Services: {', '.join(item.service_names)}")
    if level_name is not None:
        lines.append(f"Escalation level: {action.spec.level} ({level_name})")
    if freeze:
        lines.append(
            "Changes to these services are frozen until the budget recovers; "
            "see Service.changeFreeze."
        )
    prediction = action.prediction
    if prediction is not None:
        lines += [
            "",
            f"Predicted breach: the {prediction.model} model predicts the budget runs out at "
            f"{to_iso(prediction.exhausted_at)} (window ends {to_iso(prediction.window_ends_at)})"
            + (
                f", probability {prediction.probability:.2f}"
                if prediction.probability is not None
                else ""
            )
            + ".",
        ]
    payload: dict[str, Any] = {
        "objectiveId": item.objective.id,
        "agreementId": item.agreement_id,
        "serviceIds": list(item.service_ids),
        "actionKey": action.key,
        "episodeKey": action.episode_key,
        "phase": str(action.phase),
        "action": str(action.spec.action),
        "level": action.spec.level,
        "state": str(status.state),
        "budgetRemaining": status.budget_remaining,
        "changeFreeze": freeze,
        "prediction": None
        if prediction is None
        else {
            "model": prediction.model,
            "madeAt": to_iso(prediction.made_at),
            "exhaustedAt": to_iso(prediction.exhausted_at),
            "windowEndsAt": to_iso(prediction.window_ends_at),
            "probability": prediction.probability,
        },
    }
    return subject[:200], "\n".join(lines) + "\n", payload


@dataclass(slots=True)
class _Planned:
    """One objective's decision, turned into rows, audit entries and deliveries."""

    item: PolicyObjective
    decision: Decision
    episode: dict[str, Any] | None = None
    actions: list[tuple[DueAction, dict[str, Any], Prepared | None]] = field(default_factory=list)
    freeze: dict[str, Any] | None = None
    lifts: list[str] = field(default_factory=list)
    lift_notice: Prepared | None = None


def _plan(
    item: PolicyObjective,
    status: ObjectiveStatus,
    decision: Decision,
    active_freezes: Sequence[str],
    settings: Settings,
    outbox: Outbox,
    now: datetime,
    report: BudgetPolicyReport,
) -> _Planned:
    stamp = to_iso(now)
    planned = _Planned(item, decision)
    episode = decision.episode
    if decision.episode_changed and episode is not None:
        planned.episode = {
            "key": episode.key,
            "objectiveId": episode.objective_id,
            "sequence": episode.sequence,
            "startedAt": to_iso(episode.started_at),
            "phases": sorted(str(p) for p in episode.phases),
            "endedAt": None if episode.ended_at is None else to_iso(episode.ended_at),
            "at": stamp,
        }
    freezing = decision.freezes
    # The owner's notice of this phase says there is a freeze: no second one for it.
    owner_told = {a.phase for a in decision.actions if a.spec.action is BudgetAction.NOTIFY_OWNER}
    for action in decision.actions:
        recipients: list[str] = []
        problems: list[str] = []
        level_name = None
        spec = action.spec
        if spec.action is BudgetAction.NOTIFY_ESCALATION_LEVEL:
            assert spec.level is not None
            recipients, level_name, problems = _level_recipients(spec.level, item, settings)
        else:
            recipients, problems = _owner_recipients(item, settings)
        report.problems.extend(f"{action.key}: {p}" for p in problems)
        prediction = action.prediction
        props: dict[str, Any] = {
            "id": new_record_id("pac"),
            "key": action.key,
            "objectiveId": item.objective.id,
            "agreementId": item.agreement_id,
            "episodeKey": action.episode_key,
            "phase": str(action.phase),
            "action": str(spec.action),
            "level": spec.level,
            "at": stamp,
            "state": str(status.state),
            "budgetRemaining": status.budget_remaining,
            "recipients": recipients,
            "reason": _reason(item, status, action),
            "predictionModel": None if prediction is None else prediction.model,
            "predictedExhaustedAt": None if prediction is None else to_iso(prediction.exhausted_at),
            "predictionProbability": None if prediction is None else prediction.probability,
        }
        prepared = None
        announced = spec.action is BudgetAction.CHANGE_FREEZE and action.phase in owner_told
        if recipients and not announced:
            subject, body, payload = _message(item, status, action, freezing, level_name)
            try:
                prepared = outbox.prepare(
                    KINDS[action.phase],
                    subject,
                    body,
                    recipients_of(recipients, settings),
                    payload=payload,
                    dedupe_key=action.key,
                    about=item.objective.id,
                )
            except NotificationError as exc:
                # Recorded all the same: the action was taken, the settings name someone
                # they cannot reach. Fix the settings; said per run.
                report.problems.append(f"{action.key}: {exc}")
        planned.actions.append((action, props, prepared))
        if spec.action is BudgetAction.CHANGE_FREEZE and planned.freeze is None:
            planned.freeze = {
                "id": new_record_id("frz"),
                "key": action.episode_key,
                "objectiveId": item.objective.id,
                "agreementId": item.agreement_id,
                "serviceIds": list(item.service_ids),
                "episodeKey": action.episode_key,
                "reason": props["reason"],
                "since": stamp,
                "liftedAt": None,
            }
    if decision.lift_freeze:
        planned.lifts = list(active_freezes)
        recipients, _ = _owner_recipients(item, settings)
        if recipients:
            subject = f"Change freeze lifted: {_what(item)}"
            body = (
                f"The {_what(item)} is HEALTHY again, its error budget recovered "
                f"({_remaining(status)} left, "
                f"above {decision_threshold(item, settings)}): the change freeze of "
                f"{', '.join(item.service_names) or 'its services'} is lifted.\n\n"
                f"Objective: {item.objective.id}\n"
            )
            try:
                planned.lift_notice = outbox.prepare(
                    LIFT_KIND,
                    subject[:200],
                    body,
                    recipients_of(recipients, settings),
                    payload={
                        "objectiveId": item.objective.id,
                        "freezeKeys": planned.lifts,
                        "budgetRemaining": status.budget_remaining,
                    },
                    dedupe_key="|".join(planned.lifts) + "|lifted",
                    about=item.objective.id,
                )
            except NotificationError as exc:
                report.problems.append(f"{item.objective.id} freeze lift: {exc}")
    return planned


def judge(
    status: ObjectiveStatus,
    policy: BudgetPolicy,
    previous: Episode | None,
    now: datetime,
    *,
    objective_id: str,
    acts: bool,
    learned: bool,
    prediction: BreachPrediction | None,
    freeze_active: bool,
) -> Decision:
    """The decision for one objective. `acts`: ACTIVE with a policy (otherwise only an
    earlier freeze may be lifted); `learned`: its backtest chose a learned model, whose
    `prediction` then replaces the status's linear forecast."""
    firing = bool(status.firing)
    state = measured_state(status.state, firing=firing, learned=learned)
    if acts:
        return decide(
            objective_id,
            state,
            status.budget_remaining,
            previous,
            policy,
            now,
            prediction=prediction,
            freeze_active=freeze_active,
        )
    remaining = status.budget_remaining
    recovered = (
        freeze_active
        and state is BudgetState.HEALTHY
        and remaining is not None
        and remaining > policy.freeze_lift_percent
    )
    return Decision(state, None, lift_freeze=recovered)


def decision_threshold(item: PolicyObjective, settings: Settings) -> str:
    policy = policy_of(item, settings.slo.budget_policies)
    return "the threshold" if policy is None else f"{policy.freeze_lift_percent:g}%"


async def apply_budget_policies(
    graph: Graph,
    settings: Settings,
    now: datetime,
    *,
    objective_ids: Sequence[str] | None = None,
    predictions: Sequence[BreachPrediction] = (),
    predictor: Predictor | None = None,
) -> BudgetPolicyReport:
    """Take, record, audit and notify every policy action due at `now` that no run took
    before (see the module); only for `objective_ids` when given. `predictions` (the
    latest per objective counts) bring a HEALTHY objective's AT_RISK actions forward;
    `predictor` adds its predictions for the objectives acted on whose backtest chose
    a learned model."""
    repository = BudgetPolicyRepository(graph)
    items = list(
        {i.objective.id: i for i in await repository.objectives(now, objective_ids)}.values()
    )
    report = BudgetPolicyReport(objectives=len(items))
    policies = settings.slo.budget_policies
    judged: list[tuple[PolicyObjective, BudgetPolicy, bool]] = []
    silent: list[PolicyObjective] = []
    for item in items:
        policy = policy_of(item, policies)
        if policy is not None and is_alerted(
            item.explicit_mode, item.tier, settings.slo.monitoring
        ):
            judged.append((item, policy, True))
        else:
            silent.append(item)
    report.judged = len(judged)
    # A freeze set while the objective was acted on (since made REPORTED, or its policy
    # removed) is still lifted, audited and told to the owners as for an acted-on one
    # (HEALTHY, budget above the threshold); no episode, action or new freeze is.
    frozen_silent = await repository.active_freezes([i.objective.id for i in silent])
    judged += [
        (item, policy_of(item, policies) or BudgetPolicy(), False)
        for item in silent
        if item.objective.id in frozen_silent
    ]
    # The learned model replaces the linear forecast where the backtest chose it.
    chosen = await PredictionRepository(graph).models([i.objective.id for i, _, _ in judged])
    learned = {objective_id for objective_id, model in chosen.items() if model != LINEAR}
    if predictor is not None:
        # The linear forecast's prediction is the status's own AT_RISK: only the
        # objectives a learned model was chosen for are asked about.
        asked = [i.objective for i, _, acts in judged if acts and i.objective.id in learned]
        if asked:
            predictions = (*predictions, *(await predictor(asked, now, chosen)).values())
    predicted: dict[str, BreachPrediction] = {}
    for prediction in sorted(predictions, key=lambda p: p.made_at):
        predicted[prediction.objective_id] = prediction
    outbox = Outbox(graph, settings, clock=lambda: now)
    engine = StatusEngine(graph, settings.slo)
    for start in range(0, len(judged), MEASURE_BATCH):
        batch = judged[start : start + MEASURE_BATCH]
        ids = [item.objective.id for item, _, _ in batch]
        episodes = await repository.latest_episodes(ids)
        freezes = await repository.active_freezes(ids)
        statuses = await engine.statuses([item.objective for item, _, _ in batch], now)
        planned: list[_Planned] = []
        for (item, policy, acts), status in zip(batch, statuses, strict=True):
            objective_id = item.objective.id
            decision = judge(
                status,
                policy,
                episodes.get(objective_id),
                now,
                objective_id=objective_id,
                acts=acts,
                learned=objective_id in learned,
                prediction=predicted.get(objective_id),
                freeze_active=bool(freezes.get(objective_id)),
            )
            if decision.episode_changed or decision.actions or decision.lift_freeze:
                planned.append(
                    _plan(
                        item,
                        status,
                        decision,
                        freezes.get(objective_id, ()),
                        settings,
                        outbox,
                        now,
                        report,
                    )
                )
        for offset in range(0, len(planned), WRITE_BATCH):
            await _write(graph, now, planned[offset : offset + WRITE_BATCH], outbox, report)
    for problem in report.problems[:20]:
        log.warning("budget policy: %s", problem)
    if report.taken or report.lifted:
        log.info("budget policies: %s", report)
    return report


async def apply_predictions(
    graph: Graph, settings: Settings, predictions: Sequence[BreachPrediction], now: datetime
) -> BudgetPolicyReport:
    """Act on breach predictions (`hub.domain.prediction`): each predicted objective is
    judged now with its prediction, so a predicted exhaustion of a HEALTHY objective
    takes the AT_RISK actions, the prediction recorded on them and in the notices."""
    wanted = sorted({p.objective_id for p in predictions})
    if not wanted:
        return BudgetPolicyReport()
    return await apply_budget_policies(
        graph, settings, now, objective_ids=wanted, predictions=predictions
    )


async def run_scheduled_budget_policies(graph: Graph, settings: Settings) -> BudgetPolicyReport:
    """The scheduled run: `apply_budget_policies` at the current time under the lease
    named `budget-policies` (`LeaseHeldError` while another hub's run goes on; the
    unique keys would keep it from acting twice, the lease from doing the work twice).
    Objectives whose backtest chose a learned model (`hub slo backtest`) are predicted
    too: a predicted breach takes the AT_RISK actions with the prediction attached."""
    predictor = PredictionEngine(graph, settings.slo).predictions
    async with held_lease(SyncRepository(graph), LEASE):
        return await apply_budget_policies(graph, settings, datetime.now(UTC), predictor=predictor)


async def _write(
    graph: Graph,
    now: datetime,
    batch: Sequence[_Planned],
    outbox: Outbox,
    report: BudgetPolicyReport,
) -> None:
    stamp = to_iso(now)
    episodes = [p.episode for p in batch if p.episode is not None]
    actions = [{"key": props["key"], "props": props} for p in batch for _, props, _ in p.actions]
    freezes = [{"key": p.freeze["key"], "props": p.freeze} for p in batch if p.freeze]
    lifts = [
        {"key": key, "at": stamp, "reason": "HEALTHY, budget above the policy's threshold"}
        for p in batch
        for key in p.lifts
    ]

    async def work(tx: Transaction) -> tuple[set[str], set[str], set[str], int]:
        await write_episodes(tx, episodes)
        created = await record_actions(tx, actions)
        frozen = await set_freezes(tx, freezes)
        lifted = await lift_freezes(tx, lifts)
        entries: list[AuditEntry] = []
        notifications: list[Notification] = []
        for p in batch:
            for action, props, prepared in p.actions:
                if action.key not in created:
                    continue
                entries.append(
                    AuditEntry.of(
                        ACTOR,
                        "budget-policy.action",
                        p.item.objective.id,
                        reason=props["reason"],
                        after={
                            k: props[k]
                            for k in (
                                "key",
                                "phase",
                                "action",
                                "level",
                                "recipients",
                                "budgetRemaining",
                                "predictionModel",
                                "predictedExhaustedAt",
                            )
                        },
                    )
                )
                if prepared is not None:
                    notifications.extend(prepared.notifications)
            if p.freeze is not None and p.freeze["key"] in frozen:
                entries.append(
                    AuditEntry.of(
                        ACTOR,
                        "change-freeze.set",
                        p.item.objective.id,
                        reason=p.freeze["reason"],
                        after={"key": p.freeze["key"], "serviceIds": p.freeze["serviceIds"]},
                    )
                )
            entries.extend(
                AuditEntry.of(
                    ACTOR,
                    "change-freeze.lift",
                    p.item.objective.id,
                    reason="HEALTHY again, budget above the policy's freeze_lift_percent",
                    before={"key": key, "liftedAt": None},
                    after={"key": key, "liftedAt": stamp},
                )
                for key in p.lifts
                if key in lifted
            )
            if p.lift_notice is not None and any(key in lifted for key in p.lifts):
                notifications.extend(p.lift_notice.notifications)
        await write_audits(tx, entries)
        if notifications:
            await write_notifications(tx, notifications, now=now)
        return created, frozen, lifted, len(notifications)

    created, frozen, lifted, notified = await graph.write_transaction(work)
    for p in batch:
        mine = [a for a, _, _ in p.actions if a.key in created]
        if p.decision.started and (mine or not p.actions):
            report.started += 1
        if p.episode is not None and p.episode["endedAt"] is not None:
            report.ended += 1
        for action, _, _ in p.actions:
            if action.key in created:
                name = action.spec.name
                report.actions[name] = report.actions.get(name, 0) + 1
    report.frozen += len(frozen)
    report.lifted += len(lifted)
    report.notified += notified
