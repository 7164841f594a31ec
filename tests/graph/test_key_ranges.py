"""Id slices cover exactly the ids after the cursor, in order, whatever the ids are."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from hub.graph.key_ranges import END, FINE_SHARES, id_slices

hub_ids = st.uuids().map(lambda u: f"agr_{u.hex}")
# Ids are never empty.
odd_ids = st.text(alphabet="agr_0123456789abcdefXYZ-", min_size=1, max_size=40)
ids = st.one_of(hub_ids, odd_ids)


def paged(
    population: list[str], after: str | None, shares: tuple[int, ...] | None = None
) -> list[str]:
    """What reading slice by slice returns: each slice sorted on its own."""
    out: list[str] = []
    slices = id_slices(after, "agr") if shares is None else id_slices(after, "agr", shares)
    for lo, hi in slices:
        out += sorted(i for i in population if lo < i <= hi)
    return out


@given(st.lists(ids, unique=True, max_size=60), st.one_of(st.none(), ids))
def test_slices_read_what_one_sorted_read_gives(population: list[str], after: str | None) -> None:
    expected = sorted(i for i in population if after is None or i > after)

    assert paged(population, after) == expected


@given(st.lists(ids, unique=True, max_size=60), st.one_of(st.none(), ids))
def test_fine_slices_read_what_one_sorted_read_gives(
    population: list[str], after: str | None
) -> None:
    expected = sorted(i for i in population if after is None or i > after)

    assert paged(population, after, FINE_SHARES) == expected


def test_fine_slices_start_with_a_4096th_of_the_id_space() -> None:
    bounds = [hi for _, hi in id_slices(None, "agr", FINE_SHARES)]

    assert bounds == [
        "agr_" + "000" + "f" * 29,
        "agr_" + "010" + "f" * 29,
        "agr_" + "110" + "f" * 29,
        END,
    ]


def test_a_first_page_starts_with_a_sixty_fourth_of_the_id_space() -> None:
    slices = list(id_slices(None, "agr"))

    assert slices == [
        ("", "agr_" + "03" + "f" * 30),
        ("agr_" + "03" + "f" * 30, "agr_" + "23" + "f" * 30),
        ("agr_" + "23" + "f" * 30, END),
    ]


def test_a_cursor_near_the_end_of_the_space_gets_one_open_slice() -> None:
    near_end = "agr_" + "f" * 31 + "0"

    assert list(id_slices(near_end, "agr")) == [(near_end, END)]


def test_a_cursor_that_is_no_hub_id_gets_one_open_slice() -> None:
    assert list(id_slices("agr_manual-7", "agr")) == [("agr_manual-7", END)]
    assert list(id_slices("zzz", "agr")) == [("zzz", END)]
    assert len(list(id_slices(f"agr_{uuid.uuid4().hex}", "agr"))) <= 3
