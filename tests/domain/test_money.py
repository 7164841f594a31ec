"""Money: ISO 4217 minor units, half-even rounding, currency validation, stored form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.money import (
    MINOR_UNITS,
    CurrencyError,
    currency_code,
    minor_unit,
    parse,
    quantum,
    rounded,
    shown,
    stored,
)


def test_minor_units_of_well_known_currencies() -> None:
    assert [minor_unit(c) for c in ("EUR", "USD", "GBP", "CHF", "JPY", "KRW", "KWD", "BHD")] == [
        2,
        2,
        2,
        2,
        0,
        0,
        3,
        3,
    ]
    assert minor_unit("CLF") == 4
    assert quantum("EUR") == Decimal("0.01")
    assert quantum("JPY") == Decimal("1")
    assert quantum("TND") == Decimal("0.001")


def test_every_code_is_three_capitals_with_a_minor_unit() -> None:
    assert len(MINOR_UNITS) > 150
    for code, places in MINOR_UNITS.items():
        assert len(code) == 3
        assert code.isalpha()
        assert code.isupper()
        assert places in (0, 2, 3, 4)


@pytest.mark.parametrize("code", ["eur", "EURO", "", "XAU", "XTS", "XXX", "HRK", "ZZZ"])
def test_unknown_or_withdrawn_codes_are_refused(code: str) -> None:
    with pytest.raises(CurrencyError, match="ISO 4217"):
        currency_code(code)


def test_lower_case_is_hinted() -> None:
    with pytest.raises(CurrencyError, match="in capitals"):
        currency_code("eur")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "EUR", "0.12"),  # half to even: down to the even cent
        ("0.135", "EUR", "0.14"),  # and up to it
        ("0.1251", "EUR", "0.13"),
        ("1200.005", "EUR", "1200.00"),
        ("2.5", "JPY", "2"),
        ("3.5", "JPY", "4"),
        ("1.0005", "KWD", "1.000"),
        ("-0.125", "EUR", "-0.12"),
    ],
)
def test_rounding_is_half_even_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    assert stored(Decimal(amount), currency) == expected


def test_stored_form_never_has_an_exponent() -> None:
    assert stored(Decimal("1E+3"), "EUR") == "1000.00"
    assert stored(Decimal("0"), "JPY") == "0"
    assert shown(Decimal("1200"), "EUR") == "1200.00 EUR"


def test_parse_reads_floats_by_their_shortest_form() -> None:
    assert parse(12000.1) == Decimal("12000.1")
    assert parse("1200.00") == Decimal("1200.00")
    assert parse(5) == Decimal(5)
    for bad in ("abc", float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="amount"):
            parse(bad)


def test_rounding_refuses_infinity() -> None:
    with pytest.raises(ValueError, match="finite"):
        rounded(Decimal("Infinity"), "EUR")


codes = st.sampled_from(sorted(MINOR_UNITS))
amounts = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False)


@given(amounts, codes)
def test_rounded_is_within_half_a_minor_unit_and_idempotent(amount: Decimal, code: str) -> None:
    result = rounded(amount, code)
    assert abs(result - amount) <= quantum(code) / 2
    assert rounded(result, code) == result
    assert -result.as_tuple().exponent == minor_unit(code)  # type: ignore[operator]


@given(amounts, codes)
def test_stored_form_reads_back_to_the_rounded_amount(amount: Decimal, code: str) -> None:
    assert Decimal(stored(amount, code)) == rounded(amount, code)
    assert parse(stored(amount, code)) == rounded(amount, code)


@given(amounts, codes)
def test_rounding_is_symmetric(amount: Decimal, code: str) -> None:
    assert rounded(-amount, code) == -rounded(amount, code)
