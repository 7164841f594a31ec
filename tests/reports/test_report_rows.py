"""The pure side of reports (hub.domain.reports): roll-ups, months, redaction of
comments and the snapshot hash."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.reports import (
    NO_UNIT,
    Comment,
    CommentVisibility,
    FileDigest,
    Leaf,
    ReportFormat,
    RowLevel,
    SnapshotHeader,
    compliance,
    months_between,
    roll_up,
    snapshot_hash,
    visible_comments,
)
from hub.reports.templates import report_templates


def leaf(
    service: str,
    month: str,
    good: float | None,
    total: float | None,
    unit: str | None = "retail",
    region: str | None = "eu",
    violations: int = 0,
    credit: str = "0",
) -> Leaf:
    return Leaf(
        objective_id=f"obj_{service}",
        objective_name=f"{service}-availability",
        kind="SLA",
        service_id=f"cmp_{service}",
        service_name=service.title(),
        business_unit=unit,
        region=region,
        month=month,
        good=good,
        total=total,
        target=99.0,
        violations=violations,
        credit=Decimal(credit),
    )


def test_compliance_is_over_summed_counts_not_an_average() -> None:
    total = roll_up(
        [
            leaf("busy", "2026-10", 990_000, 1_000_000),  # 99 %
            leaf("quiet", "2026-10", 50, 100),  # 50 %
        ]
    )
    assert total.good == 990_050
    assert total.total == 1_000_100
    assert total.compliance == 100 * 990_050 / 1_000_100  # not (99 + 50) / 2
    assert total.met is False  # quiet missed its 99 %


def test_levels_and_drill_down() -> None:
    total = roll_up(
        [
            leaf("pay", "2026-11", 99, 100, violations=1, credit="12.50"),
            leaf("pay", "2026-10", 100, 100),
            leaf("crm", "2026-10", None, None, unit=None, region=None),
        ]
    )
    assert total.level is RowLevel.TOTAL
    assert [u.label for u in total.children] == ["retail", NO_UNIT]
    retail = total.children[0]
    [region] = retail.children
    [service] = region.children
    assert (region.level, service.level, service.label) == (
        RowLevel.REGION,
        RowLevel.SERVICE,
        "Pay",
    )
    assert [r.label for r in service.children] == [
        "pay-availability / 2026-10",
        "pay-availability / 2026-11",
    ]
    assert service.violations == 1
    assert total.credit == Decimal("12.50")
    no_data = total.children[1]
    assert (no_data.good, no_data.total, no_data.compliance, no_data.met) == (
        None,
        None,
        None,
        None,
    )


counts = st.integers(min_value=0, max_value=10**9)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["retail", "corp", None]),
            st.sampled_from(["2026-09", "2026-10"]),
            counts,
            counts,
            st.integers(min_value=0, max_value=5),
        ),
        max_size=30,
    )
)
def test_every_rolled_up_row_sums_its_children(rows: list[tuple]) -> None:  # type: ignore[type-arg]
    leaves = [
        leaf(service, month, min(good, total), total, unit=unit, violations=v)
        for service, unit, month, good, total, v in rows
    ]
    total = roll_up(leaves)
    assert len(list(total.leaves())) == len(leaves)
    for row in total.walk():
        if row.level is RowLevel.OBJECTIVE_MONTH:
            continue
        below = list(row.leaves())
        assert row.good == (sum(x.good for x in below) if below else None)
        assert row.total == (sum(x.total for x in below) if below else None)
        assert row.violations == sum(x.violations for x in below)
        assert row.compliance == compliance(row.good, row.total)


def test_months_of_a_period() -> None:
    start = datetime(2026, 11, 15, tzinfo=UTC)
    end = datetime(2027, 2, 1, tzinfo=UTC)
    assert [m for m, _, _ in months_between(start, end)] == ["2026-11", "2026-12", "2027-01"]
    assert months_between(start, end)[0][1] == start
    assert months_between(end, start) == []


def test_customer_reports_keep_customer_visible_comments_only() -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    internal = Comment("c1", "cmp_a", "2026-10", "o", at, CommentVisibility.INTERNAL, "x")
    public = Comment("c2", "cmp_a", "2026-10", "o", at, CommentVisibility.CUSTOMER_VISIBLE, "y")
    assert visible_comments([internal, public], redacted=True) == [public]
    assert visible_comments([internal, public], redacted=False) == [internal, public]
    total = roll_up([leaf("a", "2026-10", 1, 1), leaf("a", "2026-11", 1, 1)], [public])
    by_month = {r.month: r.comments for r in total.leaves()}
    assert by_month == {"2026-10": (public,), "2026-11": ()}


def test_the_snapshot_hash_covers_header_content_files_and_chain() -> None:
    header = SnapshotHeader("rsn_1", 1, "2026-11-02T00:00:00.000000Z", "owen", None)
    files = [FileDigest(ReportFormat.PDF, "ab" * 32, 10)]
    base = snapshot_hash(header, "cd" * 32, files, "0" * 64)
    assert base != snapshot_hash(header, "ce" * 32, files, "0" * 64)
    assert base != snapshot_hash(header, "cd" * 32, files, "1" * 64)
    assert base != snapshot_hash(
        header, "cd" * 32, [FileDigest(ReportFormat.PDF, "ab" * 32, 11)], "0" * 64
    )
    edited = SnapshotHeader("rsn_1", 1, "2026-11-02T00:00:00.000000Z", "mallory", None)
    assert base != snapshot_hash(edited, "cd" * 32, files, "0" * 64)


def test_the_four_standard_templates() -> None:
    templates = report_templates()
    assert sorted(templates) == ["business-unit", "customer", "executive", "operations"]
    assert templates["customer"].kinds == ("SLA",)
    assert templates["customer"].customer_facing
    assert set(templates["operations"].kinds) == {"SLA", "OLA", "UC"}
    assert RowLevel.OBJECTIVE_MONTH in templates["operations"].levels
