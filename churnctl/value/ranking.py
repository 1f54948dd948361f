"""The campaign list: customers ranked by the expected net value of contacting them, kept in bounded
memory while a large input streams past.

A :class:`Shortlist` takes scored batches (with ``expected_net_value``, ``expected_cost`` and each row's
input position ``row``) and keeps the ``limit`` best (highest value first, earlier rows first among
equals), so memory stays at ``limit`` rows plus one batch whatever the input's size; shortlists of
different parts merge into the shortlist of the whole. :func:`contact_list` then ranks them, spends a
budget and adds the running totals a campaign manager reads: the cumulative expected cost and the
cumulative expected saving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnctl.errors import UsageError
from churnctl.value.campaign import Campaign

VALUE, COST, ROW = "expected_net_value", "expected_cost", "row"
MONEY_DECIMALS = 2  # amounts in the list are written to the cent (ranked before rounding)


def _order(frame: pd.DataFrame) -> np.ndarray:
    """Positions of ``frame``'s rows from the highest expected net value down (earlier rows first)."""
    return np.lexsort((frame[ROW].to_numpy(), -frame[VALUE].to_numpy()))


@dataclass
class Shortlist:
    limit: int | None  # rows kept at most (None: every row)
    parts: list[pd.DataFrame] = field(default_factory=list)
    n_seen: int = 0

    def write(self, frame: pd.DataFrame) -> None:
        """Add a scored batch (the interface of a table writer, so scoring code writes here unchanged)."""
        self.n_seen += len(frame)
        self.parts.append(frame)
        if self.limit is not None and sum(len(p) for p in self.parts) > 2 * self.limit:
            self._trim()

    def merge(self, other: Shortlist) -> None:
        self.n_seen += other.n_seen
        self.parts.extend(other.parts)
        self._trim()

    def _trim(self) -> None:
        frame = pd.concat(self.parts, ignore_index=True) if len(self.parts) > 1 else self.parts[0]
        order = _order(frame)
        self.parts = [frame.iloc[order[: self.limit] if self.limit is not None else order].reset_index(drop=True)]

    def ranked(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame()
        self._trim()
        return self.parts[0]


def shortlist_limit(campaign: Campaign, top: int | None, budget: float | None) -> int | None:
    """The most customers the list can hold: ``top``, or as many as the budget pays for at the lowest
    possible cost of a contact (the contact, plus the incentive at its least likely)."""
    if budget is None:
        return top
    cheapest = campaign.contact_cost + campaign.incentive_cost * min(campaign.acceptance, 1.0)
    if cheapest <= 0:
        raise UsageError(
            "--budget needs a cost per contact: contact_cost and incentive_cost are both 0",
            hint="set [value] contact_cost or incentive_cost (or use --top K)",
        )
    most = math.floor(budget / cheapest)
    return most if top is None else min(top, most)


@dataclass
class ContactList:
    customers: pd.DataFrame  # ranked, with rank, cumulative_cost and cumulative_expected_saving
    considered: int  # customers scored
    spent: float  # expected cost of contacting the list
    saving: float  # expected net value of contacting the list
    stopped: str | None  # why the list ends before --top or the budget ("no gain", "budget")


def contact_list(shortlist: Shortlist, top: int | None, budget: float | None) -> ContactList:
    """The customers to contact, best first: at most ``top``; within ``budget`` (expected cost), and
    only while contacting still gains something when a budget is given."""
    ranked = shortlist.ranked()
    stopped = None
    if len(ranked) and budget is not None:
        spend = ranked[COST].cumsum().to_numpy()
        fits = int(np.searchsorted(spend, budget, side="right"))
        gains = int(np.argmax(ranked[VALUE].to_numpy() <= 0)) if (ranked[VALUE] <= 0).any() else len(ranked)
        keep = min(fits, gains)
        stopped = "no gain" if gains < fits else ("budget" if fits < len(ranked) else None)
        ranked = ranked.iloc[:keep]
    if top is not None:
        ranked = ranked.iloc[:top]
    ranked = ranked.reset_index(drop=True)
    spent = float(ranked[COST].sum()) if len(ranked) else 0.0
    saving = float(ranked[VALUE].sum()) if len(ranked) else 0.0
    ranked["cumulative_cost"] = ranked[COST].cumsum()
    ranked["cumulative_expected_saving"] = ranked[VALUE].cumsum()
    money = [VALUE, COST, "cumulative_cost", "cumulative_expected_saving"]
    ranked[money] = ranked[money].round(MONEY_DECIMALS)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    first = ["rank", *[c for c in ranked.columns if c not in ("rank", ROW, *money)], ROW, *money]
    return ContactList(ranked[first], shortlist.n_seen, spent, saving, stopped)
