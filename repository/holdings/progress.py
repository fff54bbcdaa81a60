"""Progress toward the programme's target: counts per library and collection, items preserved
per month, the projected date the target is reached, and what is left by priority.

Everything is counted in SQL, in two grouped queries over the register joined to the AIPs
(``links.item_aip_state``), so the figures are Kho's own records at the moment of asking.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from repository.errors import ConfigurationError
from repository.holdings.links import item_aip_state, linked_aips
from repository.holdings.models import HoldingCollection, HoldingItem, HoldingLibrary
from repository.holdings.register import find_library, status_history
from repository.holdings.vocabulary import PRESERVED, PUBLISHED, STATUSES

NO_COLLECTION = ""  # items whose row named no collection


@dataclass
class Figures:
    """Counts for one scope (the programme, a library, a collection)."""

    items: int = 0
    rare_items: int = 0
    preserved: int = 0
    published: int = 0
    rare_preserved: int = 0
    rare_published: int = 0
    pages: int = 0
    rare_pages: int = 0
    preserved_pages: int = 0
    rare_preserved_pages: int = 0
    status: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    # Rare items not yet preserved, by priority (1 high … 3 low, None unset): items, pages.
    left: dict[int | None, list[int]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        n, pages = row["n"], row["pages"]
        self.items += n
        self.pages += pages
        state = row["state"]
        self.status[state] += n
        if state in (PRESERVED, PUBLISHED):
            self.preserved += n
            self.preserved_pages += pages
            self.published += n if state == PUBLISHED else 0
        if row["rare"]:
            self.rare_items += n
            self.rare_pages += pages
            if state in (PRESERVED, PUBLISHED):
                self.rare_preserved += n
                self.rare_preserved_pages += pages
                self.rare_published += n if state == PUBLISHED else 0
            else:
                left = self.left.setdefault(row["priority"], [0, 0])
                left[0] += n
                left[1] += pages

    @property
    def progress(self) -> float:
        """The share of rare items preserved, 0–1 (1 when there are none to do)."""
        return self.rare_preserved / self.rare_items if self.rare_items else 0.0

    @property
    def progress_pages(self) -> float:
        return self.rare_preserved_pages / self.rare_pages if self.rare_pages else 0.0


@dataclass(eq=False)  # compared by identity: two empty collections are not the same
class Scope:
    """A library or collection (or the programme) with its figures and the target it has."""

    name: str
    figures: Figures
    target: float
    deadline: date | None
    per_month: dict[str, list[int]] = field(default_factory=dict)  # "2026-03": [items, rare]
    children: list["Scope"] = field(default_factory=list)


@dataclass
class HoldingsReport:
    generated_at: datetime
    today: date
    pace_months: int
    programme: Scope
    library: str | None = None


def programme_deadline(settings) -> date | None:
    if not settings.holdings_deadline:
        return None
    try:
        return date.fromisoformat(settings.holdings_deadline)
    except ValueError:
        raise ConfigurationError(f"KHO_HOLDINGS_DEADLINE: {settings.holdings_deadline!r} "
                                 "is not a date (YYYY-MM-DD)") from None


def build_report(session: Session, settings, *, library: str | None = None,
                 today: date | None = None) -> HoldingsReport:
    """Figures for the whole programme (or one library), per library and per collection."""
    now = datetime.now(timezone.utc)
    today = today or now.date()
    if not 0 < settings.holdings_target <= 1:
        raise ConfigurationError("KHO_HOLDINGS_TARGET must be a share between 0 and 1 (0.7)")
    only = find_library(session, library) if library else None
    programme = Scope("", Figures(), settings.holdings_target, programme_deadline(settings))
    libraries: dict[int, Scope] = {}
    collections: dict[tuple[int, int | None], Scope] = {}
    library_rows = session.scalars(select(HoldingLibrary).order_by(HoldingLibrary.name)).all()
    for row in library_rows:
        if only is None or row.id == only.id:
            libraries[row.id] = Scope(row.name, Figures(), row.target_share or programme.target,
                                      row.target_date or programme.deadline)
            programme.children.append(libraries[row.id])
    for row in session.scalars(select(HoldingCollection).order_by(HoldingCollection.name)):
        parent = libraries.get(row.library_id)
        if parent is not None:
            collections[(row.library_id, row.id)] = Scope(
                row.name, Figures(), row.target_share or parent.target,
                row.target_date or parent.deadline)
    state = item_aip_state(today)
    effective = case((state.c.published == 1, PUBLISHED),
                     (state.c.item_id.is_not(None), PRESERVED), else_=HoldingItem.status)
    month = _month(session, state.c.preserved_at)
    # One pass over the register: grouped by scope, rarity, priority, status and the month
    # the item was first preserved (NULL for the rest), which also feeds the chart.
    query = (select(HoldingItem.library_id, HoldingItem.collection_id, HoldingItem.rare,
                    HoldingItem.priority, effective.label("state"), month.label("month"),
                    func.count().label("n"),
                    func.coalesce(func.sum(HoldingItem.pages), 0).label("pages"))
             .outerjoin(state, state.c.item_id == HoldingItem.id)
             .group_by(HoldingItem.library_id, HoldingItem.collection_id, HoldingItem.rare,
                       HoldingItem.priority, effective, month))
    if only is not None:
        query = query.where(HoldingItem.library_id == only.id)
    for row in session.execute(query).mappings():
        row = dict(row, rare=bool(row["rare"]), pages=int(row["pages"] or 0))
        library_scope = libraries[row["library_id"]]
        collection_scope = _collection(collections, library_scope, row["library_id"],
                                       row["collection_id"])
        for scope in (programme, library_scope, collection_scope):
            scope.figures.add(row)
            if row["month"]:
                counts = scope.per_month.setdefault(row["month"], [0, 0])
                counts[0] += row["n"]
                counts[1] += row["n"] if row["rare"] else 0
    for scope in libraries.values():
        scope.children.sort(key=lambda s: (s.name == NO_COLLECTION, s.name))
    return HoldingsReport(now, today, settings.holdings_pace_months, programme,
                          only.name if only else None)


def _collection(collections, library_scope: Scope, library_id: int, collection_id: int | None) -> Scope:
    key = (library_id, collection_id)
    scope = collections.get(key)
    if scope is None:  # items with no collection, gathered under an empty name
        scope = collections[key] = Scope(NO_COLLECTION, Figures(), library_scope.target,
                                         library_scope.deadline)
    if not any(child is scope for child in library_scope.children):
        library_scope.children.append(scope)
    return scope


def _month(session: Session, column):
    """SQL for "YYYY-MM" of a timestamp, in the catalogue's dialect (stored in UTC)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def projection(scope: Scope, today: date, pace_months: int) -> dict[str, Any]:
    """When the scope reaches its target if rare items go on being preserved at the pace
    of the last ``pace_months`` months (or since the first, when that is more recent)."""
    figures = scope.figures
    needed = math.ceil(scope.target * figures.rare_items - 1e-9)
    remaining = max(0, needed - figures.rare_preserved)
    start = _add_months(date(today.year, today.month, 1), -(pace_months - 1))
    months = [m for m, counts in sorted(scope.per_month.items()) if counts[1]]
    recent = sum(counts[1] for m, counts in scope.per_month.items() if m >= start.strftime("%Y-%m"))
    first = date.fromisoformat(months[0] + "-01") if months else None
    since = max(start, first) if first else start
    days = max(30, (today - since).days + 1)
    pace = recent / days * 30.4375 if recent else 0.0  # rare items per month
    result: dict[str, Any] = {"target_items": needed, "remaining": remaining,
                              "pace_per_month": round(pace, 2), "projected_date": None,
                              "on_track": None, "reached": remaining == 0 and needed > 0}
    if remaining == 0:
        result["on_track"] = needed > 0
        return result
    if recent:
        # Whole days at the measured pace (integers: the same inputs give the same date).
        projected = today + timedelta(days=math.ceil(remaining * days / recent))
        result["projected_date"] = projected.isoformat()
        result["on_track"] = scope.deadline is None or projected <= scope.deadline
    else:
        result["on_track"] = False
    return result


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def item_document(session: Session, item: HoldingItem, today: date | None = None) -> dict[str, Any]:
    """One item with its effective status, linked AIPs and status history."""
    today = today or date.today()
    state = item_aip_state(today)
    linked = session.execute(select(state.c.preserved_at, state.c.published)
                             .where(state.c.item_id == item.id)).first()
    effective = item.status
    if linked:
        effective = PUBLISHED if linked.published else PRESERVED
    return {
        "library": item.library.name, "collection": item.collection.name if item.collection else None,
        "shelfmark": item.shelfmark, "title": item.title, "parallel_titles": item.parallel_titles,
        "creator": item.creator, "date": item.date, "type": item.item_type,
        "languages": item.languages, "scripts": item.scripts, "rare": item.rare,
        "condition": item.condition, "pages": item.pages, "priority": item.priority,
        "notes": item.notes, "status": effective, "staff_status": item.status,
        "preserved_at": linked.preserved_at.isoformat() if linked and linked.preserved_at else None,
        "aips": linked_aips(session, item),
        "history": [{"from": h.from_status, "to": h.to_status, "agent": h.agent, "via": h.via,
                     "note": h.note, "at": h.changed_at.isoformat()}
                    for h in status_history(session, item)],
    }
