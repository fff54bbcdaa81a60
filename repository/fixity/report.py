"""Reports for auditors: what was checked, coverage of the policy, failures and errors.

Coverage is the share of AIPs *proven* within the policy window: whose last successful
check is no older than ``fixity_interval_days`` at the report's end.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from repository.catalog import Aip, Collection
from repository.catalog.events import as_utc
from repository.config import Settings

from repository.storage.ocfl import INVENTORY

from .models import OK, FixityAipStatus, FixityCheck, FixityResult

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class FixityReport:
    since: datetime | None
    until: datetime
    collection: str | None
    outcome: str | None
    interval_days: int
    aips_total: int = 0
    aips_checked: int = 0
    checks: int = 0
    bytes_checked: int = 0
    files_checked: int = 0
    # Per stored file result, OCFL inventories apart, so that the outcomes other than
    # "error" add up to files_checked (a file storage could not read is not "checked").
    outcomes: dict[str, int] = field(default_factory=dict)
    inventory_outcomes: dict[str, int] = field(default_factory=dict)
    aip_outcomes: dict[str, int] = field(default_factory=dict)   # per check
    aips_proven: int = 0
    never_checked: int = 0
    oldest_last_check: datetime | None = None
    oldest_aip: str | None = None
    per_day: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    # Per storage location (each copy of an AIP is checked in its own location):
    # {"checks", "aips", "success", "failure", "error"} in the period.
    per_location: dict[str, dict[str, int]] = field(default_factory=dict)
    # Copies not verified at their AIP's current version (pending or failed), now.
    unverified_copies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.aips_proven / self.aips_total if self.aips_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("since", "until", "oldest_last_check"):
            data[key] = data[key].isoformat() if data[key] else None
        data["coverage"] = round(self.coverage, 4)
        return data


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def build_report(session, settings: Settings, *, since: date | None = None,
                 until: date | None = None, collection: str | None = None,
                 outcome: str | None = None, now: datetime | None = None,
                 problem_limit: int = 5000) -> FixityReport:
    """Gather the report for checks started in [since, until] (whole days, UTC)."""
    now = now or datetime.now(timezone.utc)
    start = _start(since) if since else None
    end = _start(until) + timedelta(days=1) if until else now
    report = FixityReport(start, min(end, now) if until else now, collection, outcome,
                          settings.fixity_interval_days)

    def in_collection(query, aip_column):
        if not collection:
            return query
        return (query.join(Aip, Aip.id == aip_column)
                .join(Collection, Collection.id == Aip.collection_id)
                .where(Collection.name == collection))

    checks = in_collection(select(FixityCheck), FixityCheck.aip_id).where(
        FixityCheck.started_at < end)
    if start:
        checks = checks.where(FixityCheck.started_at >= start)
    window = checks.subquery()
    row = session.execute(select(
        func.count(), func.count(func.distinct(window.c.aip_id)),
        func.coalesce(func.sum(window.c.bytes_checked), 0),
        func.coalesce(func.sum(window.c.files_checked), 0))).one()
    report.checks, report.aips_checked, report.bytes_checked, report.files_checked = (
        int(row[0]), int(row[1]), int(row[2]), int(row[3]))
    report.aip_outcomes = dict(session.execute(
        select(window.c.outcome, func.count()).group_by(window.c.outcome)).all())
    results = select(FixityResult).join(window, window.c.id == FixityResult.check_id)
    res = results.subquery()
    is_inventory = (res.c.path == INVENTORY) | res.c.path.like(f"%/{INVENTORY}")
    for inventory, outcome_name, count in session.execute(
            select(is_inventory, res.c.outcome, func.count())
            .group_by(is_inventory, res.c.outcome)).all():
        target = report.inventory_outcomes if inventory else report.outcomes
        target[outcome_name] = target.get(outcome_name, 0) + count
    days: dict[date, dict[str, Any]] = {}
    for started, result in session.execute(select(window.c.started_at, window.c.outcome)):
        day = as_utc(started).date()
        entry = days.setdefault(day, {"day": day.isoformat(), "checks": 0, "failures": 0,
                                      "errors": 0})
        entry["checks"] += 1
        entry["failures"] += result == "failure"
        entry["errors"] += result == "error"
    report.per_day = [days[d] for d in sorted(days)]
    for location, result, count, aips in session.execute(
            select(window.c.location, window.c.outcome, func.count(),
                   func.count(func.distinct(window.c.aip_id)))
            .group_by(window.c.location, window.c.outcome)):
        entry = report.per_location.setdefault(location, {
            "checks": 0, "aips": 0, "success": 0, "failure": 0, "error": 0})
        entry["checks"] += count
        entry["aips"] = max(entry["aips"], aips)  # at least; one AIP may have several outcomes
        entry[result] = entry.get(result, 0) + count
    report.unverified_copies = _unverified_copies(session, collection, problem_limit)
    problems = results.where(FixityResult.outcome != OK)
    if outcome:
        problems = results.where(FixityResult.outcome == outcome)
    for r in session.scalars(problems.order_by(FixityResult.checked_at.desc(), FixityResult.id)
                             .limit(problem_limit)):
        report.problems.append({
            "checked_at": as_utc(r.checked_at).isoformat(timespec="seconds"),
            "aip": r.aip_identifier, "location": r.location, "version": r.version,
            "path": r.path, "outcome": r.outcome, "algorithm": r.algorithm,
            "expected": r.expected, "actual": r.actual, "size": r.size, "detail": r.detail})
    # Coverage and oldest last check are about the holdings now, not the window.
    aips = select(Aip.id)
    if collection:
        aips = aips.join(Collection, Collection.id == Aip.collection_id).where(
            Collection.name == collection)
    aip_ids = aips.subquery()
    report.aips_total = session.scalar(select(func.count()).select_from(aip_ids)) or 0
    status = (select(FixityAipStatus)
              .join(aip_ids, aip_ids.c.id == FixityAipStatus.aip_id).subquery())
    proven_after = report.until - timedelta(days=settings.fixity_interval_days)
    # An AIP whose latest check failed is not proven, whatever passed before it.
    report.aips_proven = session.scalar(select(func.count()).select_from(status).where(
        status.c.last_success_at >= proven_after, status.c.last_outcome == "success")) or 0
    checked = session.scalar(select(func.count()).select_from(status).where(
        status.c.last_checked_at.is_not(None))) or 0
    report.never_checked = report.aips_total - checked
    oldest = session.execute(
        select(Aip.identifier, status.c.last_checked_at).join(status, status.c.aip_id == Aip.id)
        .where(status.c.last_checked_at.is_not(None))
        .order_by(status.c.last_checked_at).limit(1)).first()
    if oldest:
        report.oldest_aip, report.oldest_last_check = oldest[0], as_utc(oldest[1])
    return report


def _unverified_copies(session, collection: str | None, limit: int) -> list[dict[str, Any]]:
    """Copies that are not (or no longer) proven: an AIP with one of these is not safe."""
    from repository.catalog.models import AipCopy
    query = (select(AipCopy, Aip.identifier, Aip.current_version)
             .join(Aip, Aip.id == AipCopy.aip_id)
             .where((AipCopy.state != "verified") | (AipCopy.version != Aip.current_version)))
    if collection:
        query = query.join(Collection, Collection.id == Aip.collection_id).where(
            Collection.name == collection)
    return [{"aip": identifier, "location": copy.location,
             "state": copy.state if copy.state != "verified" else "pending",
             "version": copy.version, "current_version": current, "detail": copy.detail}
            for copy, identifier, current in session.execute(
                query.order_by(Aip.identifier, AipCopy.location).limit(limit))]


PLOT_WORDS = {"title": "AIP checks and failures per day", "checks": "AIP checks",
              "failed": "failed or error", "none": "No checks in this period",
              "day_checks": "%(n)s checks",  # a bar's tooltip
              "day_problems": "%(failures)s failed, %(errors)s errors"}


def plot_svg(per_day: list[dict[str, Any]], width: int = 720, height: int = 220,
             words: dict[str, str] | None = None) -> str:
    """Checks and failures per day as an inline SVG bar chart (prints well, no script);
    ``words`` replaces the English title and legend (the web pages pass translations)."""
    from html import escape
    words = {k: escape(v) for k, v in {**PLOT_WORDS, **(words or {})}.items()}
    left, bottom, top = 48, 36, 16
    plot_w, plot_h = width - left - 12, height - bottom - top
    if not per_day:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'role="img" aria-label="{words["none"]}"><text x="{width // 2}" '
                f'y="{height // 2}" text-anchor="middle" font-size="14">{words["none"]}</text></svg>')
    peak = max(max(d["checks"] for d in per_day), 1)
    step = plot_w / len(per_day)
    bar = max(1.0, step * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{words["title"]}" font-family="sans-serif" font-size="11">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
             'stroke="#333"/>', f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
             'stroke="#333"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>']
    labels = max(1, len(per_day) // 8)
    for i, d in enumerate(per_day):
        x = left + i * step + (step - bar) / 2
        h = plot_h * d["checks"] / peak
        parts.append(f'<rect class="checks" x="{x:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{bar:.1f}" height="{h:.1f}" fill="#6b8fb5">'
                     f'<title>{d["day"]}: {words["day_checks"] % {"n": d["checks"]}}</title></rect>')
        bad = d["failures"] + d["errors"]
        if bad:
            fh = plot_h * bad / peak
            parts.append(f'<rect class="failures" x="{x:.1f}" y="{top + plot_h - fh:.1f}" '
                         f'width="{bar:.1f}" height="{fh:.1f}" fill="#c0392b">'
                         f'<title>{d["day"]}: {words["day_problems"] % d}</title></rect>')
        if i % labels == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle">{d["day"][5:]}</text>')
    second = left + 40 + 7 * len(words["checks"])  # after the first legend's words
    parts.append(f'<rect x="{left + 8}" y="{height - 14}" width="10" height="10" fill="#6b8fb5"/>'
                 f'<text x="{left + 22}" y="{height - 5}">{words["checks"]}</text>'
                 f'<rect x="{second}" y="{height - 14}" width="10" height="10" fill="#c0392b"/>'
                 f'<text x="{second + 14}" y="{height - 5}">{words["failed"]}</text></svg>')
    return "".join(parts)


CSV_FIELDS = ("checked_at", "aip", "location", "version", "path", "outcome", "algorithm",
              "expected", "actual", "size", "detail")


def render_csv(report: FixityReport) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report.problems)
    return out.getvalue()


def render_text(report: FixityReport) -> str:
    lines = [
        "Kho fixity report",
        f"Period: {report.since.date() if report.since else 'beginning'} to {report.until.date()}"
        + (f", collection {report.collection}" if report.collection else ""),
        f"AIPs checked: {report.aips_checked} ({report.checks} checks), "
        f"files {report.files_checked}, bytes {report.bytes_checked}",
        "Checks by outcome: " + (", ".join(f"{k} {v}" for k, v in sorted(report.aip_outcomes.items()))
                                 or "none"),
        "Files by outcome: " + (", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
                                or "none"),
        "Inventories by outcome: " + (", ".join(
            f"{k} {v}" for k, v in sorted(report.inventory_outcomes.items())) or "none"),
        f"Coverage: {report.coverage:.1%} ({report.aips_proven} of {report.aips_total} AIPs "
        f"proven within {report.interval_days} days); never checked: {report.never_checked}",
        "Oldest last check: "
        + (f"{report.oldest_last_check.isoformat(timespec='seconds')} ({report.oldest_aip})"
           if report.oldest_last_check else "none"),
    ]
    for location, entry in sorted(report.per_location.items()):
        lines.append(f"Copies in {location}: {entry['checks']} checks, {entry['success']} "
                     f"passed, {entry['failure']} failed, {entry['error']} errors")
    lines.append(f"Copies not verified: {len(report.unverified_copies)}")
    for c in report.unverified_copies:
        lines.append(f"  {c['state'].upper()} {c['aip']} {c['location']} (copy at "
                     f"v{c['version']}, AIP at v{c['current_version']})"
                     + (f": {c['detail']}" if c["detail"] else ""))
    lines.append(f"Failures and errors: {len(report.problems)}")
    for p in report.problems:
        lines.append(f"  {p['checked_at']} {p['outcome'].upper()} {p['aip']} {p['location']} "
                     f"{p['path'] or '(object)'}"
                     + (f" {p['algorithm']} expected {p['expected'] or '-'} actual "
                        f"{p['actual'] or '-'}" if p["algorithm"] else "")
                     + (f": {p['detail']}" if p["detail"] else ""))
    return "\n".join(lines) + "\n"


def render_html(report: FixityReport) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape())
    from markupsafe import Markup
    return env.get_template("fixity_report.html").render(
        report=report, plot=Markup(plot_svg(report.per_day)))


def render_report(report: FixityReport, fmt: str = "text") -> str:
    """The report as text, csv (the failures and errors), json or html."""
    if fmt == "json":
        return json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        return render_html(report)
    return render_text(report)
