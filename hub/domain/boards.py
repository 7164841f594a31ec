"""Approval boards: which groups must sign an agreement version, and for which group an
approver signs. Pure rules, no I/O (docs/governance.md, "Approval boards").

A board names the groups that sign versions of one agreement kind whose highest
covered tier is one tier, e.g. ``SLA, TIER_1 -> it, legal, business``. A board without
a tier applies to every version of its kind that no tiered board matches, including
versions that cover no tiered service (a CI-only agreement has no tier). With no board
for a version, the count rule (`policy.approvals_required`) applies instead.

The groups are decided once, at submission, and stored on the version: a later change
of the settings does not move the goalposts of a version already PENDING_APPROVAL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.domain.errors import FieldProblem, InvalidInputError
from hub.domain.models import AgreementKind, Approval, Tier

# TIER_1 is the most critical: the highest tier is the one first in this order.
_TIER_ORDER = {tier: rank for rank, tier in enumerate(Tier)}


@dataclass(frozen=True, slots=True)
class Board:
    """The groups that sign versions of `kind` whose highest covered tier is `tier`
    (None: every version of `kind` that no board with a tier matches)."""

    kind: AgreementKind
    tier: Tier | None
    groups: tuple[str, ...]


def highest_tier(tiers: Iterable[str | None]) -> Tier | None:
    """The most critical of the covered services' tiers (TIER_1 before TIER_2...);
    None when none of them has a tier (or only CIs are covered). Unknown values are
    left out."""
    known = [Tier(t) for t in tiers if t is not None and t in Tier.__members__]
    return min(known, key=_TIER_ORDER.__getitem__) if known else None


def required_groups(
    boards: Sequence[Board], kind: AgreementKind, tier: Tier | None
) -> tuple[str, ...]:
    """The groups that must sign a version of `kind` whose highest covered tier is
    `tier`: the board for both, else the board of the kind without a tier, else none
    (the count rule applies)."""
    for wanted in (tier, None) if tier is not None else (None,):
        for board in boards:
            if board.kind is kind and board.tier is wanted:
                return board.groups
    return ()


def signed_groups(log: Sequence[Approval]) -> set[str]:
    """The board groups that have signed, from a version's approvals."""
    return {a.group for a in log if a.group is not None}


class BoardError(Exception):
    """A signature the board forbids; the message says why and what to do."""


def group_to_sign(
    required: Sequence[str],
    log: Sequence[Approval],
    holder_groups: frozenset[str],
    asked: str | None,
    *,
    user: str,
    name: str,
) -> str | None:
    """The group `user` (holding `holder_groups`) signs for with this approval of the
    version `name`, given its `required` groups and approvals so far; `asked` is the
    group the approver named, if any.

    With no board (`required` empty) the approval signs for no group and naming one is
    refused. Raises `BoardError` for a group the version does not need, already signed,
    or not held, and `InvalidInputError` (field `group`) when the approver holds several
    unsigned required groups and named none.
    """
    if not required:
        if asked is not None:
            raise BoardError(
                f"{name!r} has no approval board, so an approval signs for no group; "
                "leave out group"
            )
        return None
    signed = signed_groups(log)
    unsigned = [g for g in required if g not in signed]
    if asked is not None:
        if asked not in required:
            raise BoardError(
                f"{name!r} needs signatures from {_listed(required)}, not {asked!r}; "
                "sign for one of those"
            )
        if asked in signed:
            by = next(a.by for a in log if a.group == asked)
            raise BoardError(
                f"{by} has already signed {name!r} for {asked!r}; "
                f"still unsigned: {_listed(unsigned) or 'none'}"
            )
        if asked not in holder_groups:
            raise BoardError(
                f"{user}'s token does not carry the group {asked!r}, so {user} cannot sign "
                f"{name!r} for it; a token created with --group {asked} can"
            )
        return asked
    choices = [g for g in unsigned if g in holder_groups]
    if not choices:
        raise BoardError(
            f"{name!r} still needs signatures from {_listed(unsigned)}, and {user}'s token "
            f"carries none of them ({_listed(sorted(holder_groups)) or 'no groups'}); an "
            "approver of those groups must sign"
        )
    if len(choices) > 1:
        raise InvalidInputError(
            [
                FieldProblem(
                    "group",
                    f"{user} may sign {name!r} for {_listed(choices)}; name one (one "
                    "approval signs for one group)",
                )
            ]
        )
    return choices[0]


def _listed(groups: Iterable[str]) -> str:
    return ", ".join(repr(g) for g in groups)
