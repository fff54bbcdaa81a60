"""The progress report as a JSON document, text, CSV or an XLSX workbook (openpyxl)."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from repository.holdings.progress import HoldingsReport, Scope, projection
from repository.holdings.vocabulary import PRIORITY_LABELS, STATUSES

FIGURE_KEYS = ("items", "rare_items", "preserved", "published", "progress", "rare_preserved",
               "rare_published", "pages", "rare_pages", "preserved_pages",
               "rare_preserved_pages", "progress_pages", "target", "deadline")
PRIORITY_KEYS = {1: "high", 2: "medium", 3: "low", None: "unset"}


def scope_document(scope: Scope, report: HoldingsReport) -> dict[str, Any]:
    f = scope.figures
    return {
        "items": f.items, "rare_items": f.rare_items, "preserved": f.preserved,
        "published": f.published, "progress": round(f.progress, 4),
        "rare_preserved": f.rare_preserved, "rare_published": f.rare_published,
        "pages": f.pages, "rare_pages": f.rare_pages, "preserved_pages": f.preserved_pages,
        "rare_preserved_pages": f.rare_preserved_pages,
        "progress_pages": round(f.progress_pages, 4),
        "target": scope.target, "deadline": scope.deadline.isoformat() if scope.deadline else None,
        "status": dict(f.status),
        "left_by_priority": [{"priority": PRIORITY_KEYS[p], "items": n, "pages": pages}
                             for p, (n, pages) in sorted(f.left.items(), key=lambda kv: kv[0] or 9)],
        "projection": projection(scope, report.today, report.pace_months),
        "per_month": [{"month": m, "preserved": c[0], "rare_preserved": c[1]}
                      for m, c in sorted(scope.per_month.items())],
    }


def report_document(report: HoldingsReport) -> dict[str, Any]:
    """The JSON of `kho holdings report --format json` and GET /api/v1/holdings/report."""
    document = {"generated_at": report.generated_at.isoformat(), "library": report.library,
                **scope_document(report.programme, report), "libraries": []}
    for library in report.programme.children:
        entry = {"library": library.name, **scope_document(library, report), "collections": []}
        for collection in library.children:
            entry["collections"].append({"collection": collection.name or None,
                                         **scope_document(collection, report)})
        document["libraries"].append(entry)
    return document


def rows(report: HoldingsReport) -> list[list[Any]]:
    """One row per scope (programme, each library, each collection), for CSV and XLSX."""
    head = ["library", "collection", "items", "rare_items", "preserved", "published", "progress",
            "pages", "rare_pages", "rare_preserved_pages", "progress_pages", "target", "deadline",
            "projected_date", "on_track",
            *[f"status_{s}" for s in STATUSES],
            *[f"left_{PRIORITY_KEYS[p]}" for p in (1, 2, 3, None)]]
    out = [head]

    def line(library: str, collection: str, scope: Scope) -> list[Any]:
        f, p = scope.figures, projection(scope, report.today, report.pace_months)
        return [library, collection, f.items, f.rare_items, f.preserved, f.published,
                round(f.progress, 4), f.pages, f.rare_pages, f.rare_preserved_pages,
                round(f.progress_pages, 4), scope.target,
                scope.deadline.isoformat() if scope.deadline else "",
                p["projected_date"] or "", "" if p["on_track"] is None else p["on_track"],
                *[f.status[s] for s in STATUSES],
                *[f.left.get(pr, [0, 0])[0] for pr in (1, 2, 3, None)]]
    out.append(line(report.library or "(all)", "", report.programme))
    for library in report.programme.children:
        out.append(line(library.name, "", library))
        for collection in library.children:
            out.append(line(library.name, collection.name or "(none)", collection))
    return out


def render_report(report: HoldingsReport, fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(report_document(report), ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows(report))
        # A BOM, so Excel opens the Vietnamese as UTF-8 rather than as Windows-1252.
        return b"\xef\xbb\xbf" + out.getvalue().encode()
    if fmt == "xlsx":
        return render_xlsx(report)
    if fmt == "text":
        return render_text(report).encode()
    raise ValueError(fmt)


def render_text(report: HoldingsReport) -> str:
    lines = [f"Holdings register — progress on {report.today.isoformat()}"]

    def describe(indent: str, name: str, scope: Scope) -> None:
        f = scope.figures
        p = projection(scope, report.today, report.pace_months)
        lines.append(f"{indent}{name}: {f.items} items, {f.rare_items} rare; "
                     f"{f.preserved} preserved, {f.published} published; "
                     f"progress {f.progress:.1%} of rare items (target {scope.target:.0%}"
                     + (f" by {scope.deadline.isoformat()}" if scope.deadline else "") + ")"
                     + f"; pages {f.progress_pages:.1%}")
        if p["reached"]:
            lines.append(f"{indent}  target reached")
        elif p["projected_date"]:
            lines.append(f"{indent}  at {p['pace_per_month']} rare items a month, reached about "
                         f"{p['projected_date']}" + ("" if p["on_track"] else " (after the deadline)"))
        elif f.rare_items:
            lines.append(f"{indent}  no rare item preserved in the last {report.pace_months} "
                         "months: no projection")
        left = ", ".join(f"{PRIORITY_LABELS['en'][pr]} {n}" for pr, (n, _p) in
                         sorted(f.left.items(), key=lambda kv: kv[0] or 9))
        if left:
            lines.append(f"{indent}  rare items left by priority: {left}")
    describe("", report.library or "Programme", report.programme)
    for library in report.programme.children:
        describe("  ", library.name, library)
        for collection in library.children:
            describe("    ", collection.name or "(no collection)", collection)
    return "\n".join(lines) + "\n"


def render_xlsx(report: HoldingsReport) -> bytes:
    """A workbook: progress per scope, then items preserved per month."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    book = Workbook()
    sheet = book.active
    sheet.title = "Progress"
    for row in rows(report):
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column in ("G", "K"):
        for cell in sheet[column][1:]:
            cell.number_format = "0.0%"
    sheet.freeze_panes = "C2"
    months = book.create_sheet("Preserved per month")
    months.append(["month", "preserved", "rare_preserved"])
    for cell in months[1]:
        cell.font = Font(bold=True)
    for month, counts in sorted(report.programme.per_month.items()):
        months.append([month, counts[0], counts[1]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def month_series(scope: Scope, today, *, least: int = 12, most: int = 36) -> list[tuple[str, int]]:
    """(YYYY-MM, items preserved) for every month from the first (at least ``least`` months,
    at most ``most``) to this one, months with none included, so the chart has no gaps."""
    def index(month: str) -> int:
        year, number = month.split("-")
        return int(year) * 12 + int(number) - 1
    last = today.year * 12 + today.month - 1
    first = min([index(m) for m in scope.per_month] + [last - least + 1])
    first = max(first, last - most + 1)
    return [(f"{i // 12:04d}-{i % 12 + 1:02d}", scope.per_month.get(f"{i // 12:04d}-{i % 12 + 1:02d}", [0, 0])[0])
            for i in range(first, last + 1)]


def chart_svg(series: list[tuple[str, int]], *, label: str, unit: str, empty: str,
              width: int = 760, height: int = 240) -> str:
    """Items preserved per month as an inline SVG bar chart: no script, prints as it shows.
    Each bar carries data-month and data-count, so a test (or a reader's tool) can read it."""
    from markupsafe import escape
    left, bottom, top = 44, 40, 16
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max([count for _m, count in series] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="holdings-chart" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}" font-family="sans-serif" font-size="11">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>']
    if not any(count for _m, count in series):
        parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" '
                     f'text-anchor="middle" font-size="14">{escape(empty)}</text>')
    step = plot_w / max(len(series), 1)
    bar = max(2.0, step * 0.7)
    every = max(1, len(series) // 12)
    for i, (month, count) in enumerate(series):
        x = left + i * step + (step - bar) / 2
        h = plot_h * count / peak
        parts.append(f'<rect class="month" data-month="{month}" data-count="{count}" '
                     f'x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                     f'fill="#8a2b1f"><title>{month}: {count} {escape(unit)}</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                         f'text-anchor="middle">{count}</text>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle">{month[5:]}/{month[2:4]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def progress_bar_svg(share: float, target: float, width: int = 160, height: int = 14) -> str:
    """A bar for a share (0–1) with a tick at the target; attributes only (strict CSP)."""
    filled = max(0.0, min(1.0, share)) * width
    tick = max(0.0, min(1.0, target)) * width
    colour = "#2e7d32" if share >= target else "#8a2b1f"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="bar" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" aria-hidden="true">'
            f'<rect width="{width}" height="{height}" fill="#ece7df"/>'
            f'<rect width="{filled:.1f}" height="{height}" fill="{colour}"/>'
            f'<line x1="{tick:.1f}" y1="0" x2="{tick:.1f}" y2="{height}" stroke="#1d2430" '
            f'stroke-width="2"/></svg>')
