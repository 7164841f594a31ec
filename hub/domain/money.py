"""Money: `Decimal` amounts in an ISO 4217 currency, rounded to its minor unit.

Amounts are never floats: a float cannot hold 0.10 exactly, and sums of credits
must add up to the cent. An amount is rounded once, when it is computed, half to
even (banker's rounding: 0.125 EUR is 0.12, 0.135 EUR is 0.14), to the currency's
minor unit (two decimals for EUR, none for JPY, three for KWD). The stored form is
the decimal string (`stored`), e.g. "1200.00".

The minor units are ISO 4217's list one of active codes (as amended to 2025, with
the Caribbean guilder XCG and the Zimbabwe Gold ZWG; HRK, SLL, ZWL and ANG are
withdrawn). Codes without a minor unit (gold, SDRs, the test code XTS) are not
money a credit can be paid in and are refused. A table rather than Babel: CLDR's
digits differ from ISO's for some codes (IQD, IRR, ...) and a table needs no
dependency.

>>> rounded(Decimal("1200.005"), "EUR"), rounded(Decimal("1200.5"), "JPY")
(Decimal('1200.00'), Decimal('1200'))
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation


def _units(codes: str, places: int) -> dict[str, int]:
    return dict.fromkeys(codes.split(), places)


# ISO 4217 list one: alphabetic code -> minor unit (decimal places).
MINOR_UNITS: dict[str, int] = {
    **_units(
        (
            "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
            "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP "
            "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR "
            "JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
            "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR "
            "RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS "
            "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
        ),
        2,
    ),
    **_units("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF", 0),
    **_units("BHD IQD JOD KWD LYD OMR TND", 3),
    **_units("CLF UYW", 4),
}


class CurrencyError(ValueError):
    """A currency code that is not an active ISO 4217 code with a minor unit."""


def currency_code(code: str) -> str:
    """`code` checked: three capital letters naming an active ISO 4217 currency.
    Raises `CurrencyError` saying what to give instead."""
    if code not in MINOR_UNITS:
        hint = " (in capitals)" if code.upper() in MINOR_UNITS else ""
        raise CurrencyError(
            f"{code!r} is not an active ISO 4217 currency code{hint}; give one such as EUR or USD"
        )
    return code


def minor_unit(currency: str) -> int:
    """The decimal places of `currency`'s minor unit (2 for EUR, 0 for JPY)."""
    return MINOR_UNITS[currency_code(currency)]


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal('0.01') for EUR, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-minor_unit(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half to even to `currency`'s minor unit."""
    if not amount.is_finite():
        raise ValueError(f"amount: give a finite amount, not {amount}")
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def parse(value: Decimal | str | int | float) -> Decimal:
    """An amount from its stored or given form: a decimal string (as stored), an int,
    a Decimal, or a float (old stored fees, GraphQL Float input), which is read by its
    shortest repr so that 12000.1 is Decimal('12000.1'), not its binary expansion."""
    if isinstance(value, bool):
        raise ValueError(f"amount: give a number, not {value!r}")
    try:
        found = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"amount: {value!r} is not a decimal number") from exc
    if not found.is_finite():
        raise ValueError(f"amount: give a finite amount, not {value!r}")
    return found


def stored(amount: Decimal, currency: str) -> str:
    """The stored form: the amount rounded to the minor unit, as a plain decimal
    string (never an exponent): "1200.00", "-5.50", "1200" for JPY."""
    return f"{rounded(amount, currency):f}"


def shown(amount: Decimal, currency: str) -> str:
    """How calculations spell an amount: "1200.00 EUR"."""
    return f"{stored(amount, currency)} {currency}"
