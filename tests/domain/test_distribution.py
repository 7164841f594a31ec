"""Distribution lists as pure values: schedules in a time zone, the period a run covers,
checking a list, resolving its recipients, and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.access import Scope
from hub.domain.distribution import (
    DistributionChannel,
    DistributionSpec,
    Recipient,
    check,
    fire_times_between,
    latest_fire,
    next_fire,
    problems,
    report_period,
    run_key,
    targets,
    visible_to,
    within_scope,
)
from hub.domain.errors import InvalidInputError

BERLIN = "Europe/Berlin"


def spec(**fields: object) -> DistributionSpec:
    values: dict[str, object] = {
        "name": "Monthly ops",
        "template": "operations",
        "schedule": "0 7 1 * *",
        "time_zone": BERLIN,
        "channel": DistributionChannel.EMAIL,
        "recipients": (Recipient(role="operations"), Recipient(address="cio@example.com")),
    }
    values.update(fields)
    return DistributionSpec(**values)  # type: ignore[arg-type]


def test_a_monthly_schedule_fires_at_local_time_in_winter_and_in_summer() -> None:
    winter = next_fire("0 7 1 * *", BERLIN, datetime(2026, 11, 15, tzinfo=UTC))
    summer = next_fire("0 7 1 * *", BERLIN, datetime(2026, 6, 15, tzinfo=UTC))

    assert winter == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # UTC+1
    assert summer == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)  # UTC+2


def test_next_fire_is_strictly_after_the_instant() -> None:
    fired = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

    assert next_fire("0 7 1 * *", BERLIN, fired) == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)


def test_the_run_due_is_the_latest_fire_time_since_the_last_run() -> None:
    since = datetime(2026, 9, 20, tzinfo=UTC)
    now = datetime(2026, 12, 3, tzinfo=UTC)

    # Oct 1, Nov 1 and Dec 1 fired: the missed ones fold into the latest.
    assert latest_fire("0 7 1 * *", BERLIN, since, now) == datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert latest_fire("0 7 1 * *", BERLIN, datetime(2026, 12, 1, 6, tzinfo=UTC), now) is None


def test_a_run_covers_the_last_whole_calendar_month_in_the_lists_time_zone() -> None:
    start, end = report_period(datetime(2026, 12, 1, 6, 0, tzinfo=UTC), BERLIN)

    assert start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 Nov 00:00 Berlin
    assert end == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 1 Dec 00:00 Berlin


def test_a_period_across_the_summer_time_change_keeps_local_midnights() -> None:
    start, end = report_period(datetime(2026, 11, 1, 6, 0, tzinfo=UTC), BERLIN)

    assert start == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # UTC+2 on 1 Oct
    assert end == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # UTC+1 on 1 Nov


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.sampled_from(["UTC", BERLIN, "America/New_York", "Asia/Kolkata", "Australia/Sydney"]),
)
def test_the_period_is_one_whole_month_ending_at_or_before_the_run(
    moment: datetime, tz: str
) -> None:
    scheduled = moment.replace(tzinfo=UTC)
    start, end = report_period(scheduled, tz)

    assert start < end <= scheduled
    assert timedelta(days=28) - timedelta(hours=2) <= end - start <= timedelta(days=31, hours=2)
    assert scheduled - end < timedelta(days=31, hours=2)


@settings(deadline=None, max_examples=50)
@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
    st.integers(min_value=1, max_value=60 * 24 * 40),
    st.sampled_from(["0 */6 * * *", "0 7 1 * *", "30 2 * * 1", "0 0 29 2 *"]),
)
def test_the_latest_fire_is_the_last_of_the_fire_times_in_the_span(
    moment: datetime, minutes: int, schedule: str
) -> None:
    since = moment.replace(tzinfo=UTC)
    now = since + timedelta(minutes=minutes)
    fired = list(fire_times_between(schedule, BERLIN, since, now))

    assert latest_fire(schedule, BERLIN, since, now) == (fired[-1] if fired else None)
    assert all(since < t <= now for t in fired)


def test_a_good_list_has_no_problems() -> None:
    assert problems(spec(), lists={"operations": (["ops@example.com"], [])}) == []


def test_every_problem_is_reported_at_once() -> None:
    bad = spec(
        name=" ",
        template="weekly",
        schedule="61 * * * *",
        recipients=(
            Recipient(),
            Recipient(role="finance"),
            Recipient(address="not-an-address"),
        ),
    )

    found = {p.field for p in problems(bad, lists={"operations": ([], [])})}

    assert found == {
        "name",
        "template",
        "schedule",
        "recipients[0]",
        "recipients[1].role",
        "recipients[2].address",
    }


def test_an_unknown_time_zone_is_named() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check(spec(time_zone="Mars/Olympus"))
    assert "Mars/Olympus" in str(caught.value.problems[0])


def test_a_webhook_recipient_names_a_configured_webhook() -> None:
    hook = spec(channel=DistributionChannel.WEBHOOK, recipients=(Recipient(address="ops"),))

    assert problems(hook, webhooks={"ops"}) == []
    assert [p.field for p in problems(hook, webhooks={"chat"})] == ["recipients[0].address"]


def test_roles_resolve_to_the_notification_list_of_that_name_by_channel() -> None:
    lists = {"operations": (["a@example.com", "b@example.com"], ["ops"])}
    recipients = (Recipient(role="operations"), Recipient(address="b@example.com"))

    email = targets(DistributionChannel.EMAIL, recipients, lists)
    hook = targets(DistributionChannel.WEBHOOK, (Recipient(role="operations"),), lists)
    portal = targets(DistributionChannel.PORTAL, (Recipient(role="viewer"),), lists)

    assert email.emails == ("a@example.com", "b@example.com")
    assert email.webhooks == ()
    assert hook.webhooks == ("ops",)
    assert portal.portal == ("role:viewer",)


def test_a_role_whose_list_is_gone_reaches_nobody() -> None:
    assert not targets(DistributionChannel.EMAIL, (Recipient(role="gone"),), {})


def test_a_scoped_editor_makes_lists_of_its_own_units_only() -> None:
    scoped = Scope.of(units=["retail"], regions=["eu"])

    assert within_scope(scoped, ["retail"], ["eu"])
    assert not within_scope(scoped, ["retail", "corp"], ["eu"])
    assert not within_scope(scoped, [], ["eu"])  # all units: more than the token's
    assert within_scope(Scope(), [], [])
    assert not within_scope(Scope.of(customer_id="cus_1"), [], [])
    assert visible_to(scoped, ["retail"], ["eu"])
    assert not visible_to(scoped, ["corp"], ["eu"])


def test_a_run_key_names_the_list_and_the_scheduled_instant() -> None:
    assert run_key("dls_1", datetime(2026, 12, 1, 6, tzinfo=UTC)) == (
        "dls_1|2026-12-01T06:00:00.000000Z"
    )
