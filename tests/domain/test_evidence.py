"""Evidence: canonical JSON, its SHA-256, and the verdict drawn again from it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.breaches import CreditPolicy, CreditTier, SeverityRules
from hub.domain.evidence import (
    EvidenceError,
    canonical,
    credit_policy_content,
    credit_policy_of,
    rederive,
    severity_rules_content,
    severity_rules_of,
    sha256_of,
)
from hub.domain.models import Tier

POLICY = CreditPolicy(
    (CreditTier(99.9, 10), CreditTier(99.0, 25), CreditTier(95.0, 50)), cap_percent=30
)


def content(
    good: float = 980.0,
    total: float = 1000.0,
    target: float = 99.0,
    part: tuple[str, str] | None = None,
    policy: CreditPolicy | None = POLICY,
    tier: str | None = None,
) -> dict[str, Any]:
    """Evidence of October 2026 whose days add up to `good` of `total`."""
    period = {"start": "2026-10-01T00:00:00+00:00", "end": "2026-11-01T00:00:00+00:00"}
    return {
        "agreement": {"id": "agr_1", "lineage": "agr_1", "kind": "SLA", "version": 1},
        "objective": {
            "id": "obj_1",
            "name": "Availability",
            "indicator": "availability",
            "target": target,
            "threshold": None,
            "windowKind": "CALENDAR_MONTH",
        },
        "period": period,
        "part": period if part is None else {"start": part[0], "end": part[1]},
        "bindings": [],
        "days": [
            {"day": "2026-10-01", "good": good / 2, "total": total / 2},
            {"day": "2026-10-02", "good": good / 2, "total": total / 2},
        ],
        "incidents": [],
        "verdict": {"measured": 98.0, "target": target, "severity": "MAJOR", "creditPercent": 25},
        "creditPolicy": None if policy is None else credit_policy_content(policy, "1000.00", "EUR"),
        "severityRules": severity_rules_content(SeverityRules()),
        "tier": tier,
    }


# ---- canonical form and fingerprint ---------------------------------------------------


def test_canonical_sorts_keys_drops_spaces_and_keeps_non_ascii() -> None:
    assert canonical({"b": [1, 2], "a": {"z": None, "y": "é"}}) == (
        '{"a":{"y":"é","z":null},"b":[1,2]}'
    )


def test_sha256_is_of_the_utf8_bytes_in_hex() -> None:
    assert sha256_of("é") == hashlib.sha256("é".encode()).hexdigest()
    assert sha256_of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_round_trips_and_is_its_own_fixed_point(value: Any) -> None:
    text = canonical(value)
    assert json.loads(text) == value
    assert canonical(json.loads(text)) == text


@given(st.dictionaries(st.text(), st.integers(), min_size=2, max_size=6))
def test_canonical_ignores_key_order(value: dict[str, int]) -> None:
    reversed_order = dict(reversed(list(value.items())))
    assert canonical(reversed_order) == canonical(value)
    assert sha256_of(canonical(reversed_order)) == sha256_of(canonical(value))


# ---- rules and policy as written into evidence ----------------------------------------


def test_severity_rules_round_trip() -> None:
    rules = SeverityRules(3.0, 1.0, frozenset({Tier.TIER_1, Tier.TIER_2}), 1.5)
    assert severity_rules_of(json.loads(canonical(severity_rules_content(rules)))) == rules
    assert severity_rules_of(None) == SeverityRules()


def test_credit_policy_round_trips() -> None:
    assert credit_policy_of(json.loads(canonical(credit_policy_content(POLICY, None, None)))) == (
        POLICY
    )
    assert credit_policy_of(None) is None


# ---- the verdict drawn again ----------------------------------------------------------


def test_rederive_a_breach_with_severity_and_credit() -> None:
    verdict = rederive(content(good=980.0, total=1000.0))
    assert verdict.measured == pytest.approx(98.0)
    assert verdict.breached
    assert verdict.severity == "MAJOR"  # overshoot 1
    assert verdict.credit_percent == 25.0


def test_rederive_a_met_target_gives_no_severity_nor_credit() -> None:
    verdict = rederive(content(good=995.0, total=1000.0))
    assert verdict.measured == pytest.approx(99.5)
    assert not verdict.breached
    assert verdict.severity is None
    assert verdict.credit_percent is None


def test_rederive_exactly_at_target_is_no_breach() -> None:
    assert not rederive(content(good=990.0, total=1000.0)).breached


def test_rederive_without_data_measures_nothing() -> None:
    verdict = rederive(content(good=0.0, total=0.0))
    assert verdict.measured is None
    assert not verdict.breached


def test_rederive_pro_rates_a_part_of_the_period() -> None:
    part = ("2026-10-01T00:00:00+00:00", "2026-10-11T00:00:00+00:00")  # 10 of 31 days
    verdict = rederive(content(good=980.0, total=1000.0, part=part))
    assert verdict.credit_percent == pytest.approx(25.0 * 10 / 31)


def test_rederive_without_policy_has_no_credit() -> None:
    verdict = rederive(content(policy=None))
    assert verdict.breached
    assert verdict.credit_percent is None


def test_rederive_escalates_a_tier_1_service() -> None:
    assert rederive(content(good=988.0, total=1000.0, tier="TIER_1")).severity == "MAJOR"
    assert rederive(content(good=988.0, total=1000.0)).severity == "MINOR"


def test_rederive_refuses_content_without_a_target() -> None:
    broken = content()
    del broken["objective"]["target"]
    with pytest.raises(EvidenceError, match=r"objective\.target"):
        rederive(broken)


def test_rederive_refuses_days_without_counts() -> None:
    broken = content()
    broken["days"] = [{"day": "2026-10-01"}]
    with pytest.raises(EvidenceError, match="days"):
        rederive(broken)


@given(
    st.floats(min_value=1e-3, max_value=1e9, allow_nan=False),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=50, max_value=99.99, allow_nan=False),
)
def test_rederive_agrees_with_the_fraction_and_credit_only_on_breach(
    total: float, share: float, target: float
) -> None:
    verdict = rederive(content(good=total * share, total=total, target=target))
    assert verdict.measured == pytest.approx(100 * share)
    assert verdict.breached == (verdict.severity is not None)
    if not verdict.breached:
        assert verdict.credit_percent is None
    else:
        assert verdict.credit_percent is not None
        assert 0 <= verdict.credit_percent <= POLICY.cap_percent


@given(st.integers(min_value=1, max_value=31), st.floats(min_value=0, max_value=0.98))
def test_rederive_part_credit_never_exceeds_the_whole_periods(days: int, share: float) -> None:
    end = f"2026-10-{days:02d}T00:00:00+00:00" if days < 31 else "2026-11-01T00:00:00+00:00"
    whole = rederive(content(good=1000 * share, total=1000.0))
    part = rederive(
        content(good=1000 * share, total=1000.0, part=("2026-10-01T00:00:00+00:00", end))
    )
    assert whole.credit_percent is not None
    assert part.credit_percent is not None
    assert part.credit_percent <= whole.credit_percent
