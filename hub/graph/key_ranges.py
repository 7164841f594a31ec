"""Paging in id order by ranges of the id space, for lists that must sort a large set.

A list ordered by id with a selective filter the id index cannot answer (the versions
in force at an instant) costs, read whole, every candidate row and a sort: the embedded
server neither streams an index in order nor stops a sorted read early. The ids the
hub makes are a prefix and 32 random hex digits (`hub.graph.ids.new_id`), so they
spread evenly over their space: a slice of it holds about that share of the rows. A
page is therefore read slice by slice, each slice an index range `lo < id <= hi`
sorted on its own: a first small slice, which usually holds the page, then larger
ones, the last open-ended. The slices are consecutive and together cover every id
after the cursor, so the page is exactly what one sorted read would give, whatever
the ids look like; an id that is not the hub's (older data, a hand-made node) only
costs the read its share of the last slice, and a cursor that is none of the hub's ids
is followed by one open-ended slice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["END", "FINE_SHARES", "id_slices"]

END = "\uffff"  # above every id the hub makes (ASCII): the last slice's upper bound
_DIGITS = 32
_SPACE = 16**_DIGITS
# The shares of the id space the slices cover, as divisors of it; then the rest.
_SHARES = (64, 8)
# For lists of up to millions of rows (configuration items): a first slice of 1/4096
# holds about 240 of a million ids, a page of the default size or more.
FINE_SHARES = (4096, 256, 16)


def _position(after: str | None, prefix: str) -> int | None:
    """Where `after` lies in `prefix`'s id space: -1 before it, None past it or when it
    is no id of the hub's (then one open-ended slice follows it)."""
    head = f"{prefix}_"
    if after is None or after < head:
        return -1
    rest = after[len(head) :]
    if not after.startswith(head) or len(rest) != _DIGITS:
        return None
    try:
        return int(rest, 16) if rest == rest.lower() else None
    except ValueError:
        return None


def id_slices(
    after: str | None, prefix: str, shares: Sequence[int] = _SHARES
) -> Iterator[tuple[str, str]]:
    """The `(lo, hi)` bounds of consecutive slices `lo < id <= hi` that together cover
    every id after `after` (every non-empty id when None), smallest first, the last up to
    `END`. `shares` are the divisors of the id space the slices before the last one
    span, in order (1/64, then 1/8, unless given)."""
    lo = "" if after is None else after
    start = _position(after, prefix)
    if start is not None:
        for share in shares:
            end = start + _SPACE // share
            if end >= _SPACE - 1:
                break
            hi = f"{prefix}_{end:0{_DIGITS}x}"
            yield lo, hi
            lo, start = hi, end
    yield lo, END
