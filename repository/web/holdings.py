"""The digitisation programme's doors: the management dashboard (/holdings, Vietnamese and
English, printable, CSV and XLSX export), a page to move items along the workflow, and the
JSON API under /api/v1/holdings.

Who: staff (archivist, auditor, admin) read; archivists and admins change. Browsers are
signed in (web/signin.py) and the status form carries the site's CSRF token like every form;
scripts use ``Authorization: Bearer``. The pages share the site's layout and its language
(the reader's choice, web/i18n.py). They add no script of their own: the chart and the bars
are SVG made on the server, the styles a file of this blueprint.
"""
from __future__ import annotations

from datetime import date

from flask import (Blueprint, Response, current_app, jsonify, redirect, render_template,
                   request, url_for)
from markupsafe import Markup
from sqlalchemy import func, select

from repository.errors import RegisterInvalid, UsageError
from repository.web.auth import current_user, require_roles
from repository.web.i18n import LANGUAGES
from repository.web.inputs import flag, paging

blueprint = Blueprint("holdings", __name__, template_folder="templates",
                      static_folder="static/holdings", static_url_path="/holdings/static")
READERS = ("archivist", "auditor")  # admin is always allowed (require_roles)
WRITERS = ("archivist",)
PER_PAGE = 50
MAX_PER_PAGE = 500
FILTERS = ("library", "collection", "status", "rare", "q", "per_page")  # kept across pages


def _services():
    return current_app.extensions["kho"]


def _lang() -> str:
    """The site's language for this request (the layout's switch), for TEXT and the labels."""
    from flask_babel import get_locale
    lang = str(get_locale() or "")
    return lang if lang in LANGUAGES else "vi"


def _build(library: str | None):
    from repository.holdings.progress import build_report
    with _services().catalog.session() as session:
        return build_report(session, _services().settings, library=library or None)


def _export(report, fmt: str) -> Response:
    from repository.holdings.export import render_report
    kinds = {"csv": "text/csv; charset=utf-8", "json": "application/json",
             "text": "text/plain; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    if fmt not in kinds:
        raise UsageError("format must be json, csv, xlsx or text")
    name = f"kho-holdings-{report.today.isoformat()}.{'txt' if fmt == 'text' else fmt}"
    # content_type, not mimetype: werkzeug adds a second "; charset=utf-8" to a mimetype
    return Response(render_report(report, fmt), content_type=kinds[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- the dashboard -------------------------------------------------------------------------

@blueprint.get("/holdings")
@require_roles(*READERS)
def dashboard():
    from repository.holdings.export import (chart_svg, month_series, progress_bar_svg,
                                            scope_document)
    from repository.holdings.progress import projection
    from repository.holdings.vocabulary import PRIORITY_LABELS, STATUS_LABELS, STATUSES
    lang = _lang()
    text = TEXT[lang]
    library = request.args.get("library", "").strip()
    report = _build(library)
    fmt = request.args.get("format")
    if fmt:
        return _export(report, fmt)
    with _services().catalog.session() as session:
        from repository.holdings.models import HoldingLibrary
        libraries = list(session.scalars(select(HoldingLibrary.name).order_by(HoldingLibrary.name)))
    programme = report.programme

    def link(**values):
        return url_for("holdings.dashboard", **({"library": library} if library else {}), **values)

    rows = []
    for lib in programme.children:
        rows.append(("library", lib.name, lib))
        rows.extend(("collection", c.name or text["no_collection"], c) for c in lib.children)
    return render_template(
        "holdings/dashboard.html", text=text, lang=lang, report=report, library=library,
        libraries=libraries, overall=scope_document(programme, report),
        projection=projection(programme, report.today, report.pace_months),
        rows=[(kind, name, scope, Markup(progress_bar_svg(scope.figures.progress, scope.target)),
               projection(scope, report.today, report.pace_months)) for kind, name, scope in rows],
        chart=Markup(chart_svg(month_series(programme, report.today), label=text["chart_label"],
                               unit=text["items_unit"], empty=text["chart_empty"])),
        overall_bar=Markup(progress_bar_svg(programme.figures.progress, programme.target, 320, 18)),
        statuses=[(s, STATUS_LABELS[lang][s]) for s in STATUSES],
        priorities=PRIORITY_LABELS[lang], link=link,
        items_url=url_for("holdings.items_page", **({"library": library} if library else {})))


@blueprint.get("/holdings/items")
@require_roles(*READERS)
def items_page():
    """Items of one library, filterable, with a form per item to move it on."""
    from repository.holdings.vocabulary import STAFF_STATUSES, STATUS_LABELS
    lang = _lang()
    page, items, total, libraries = _list_items()
    return render_template(
        "holdings/items.html", text=TEXT[lang], lang=lang, items=items, total=total,
        page=page, per_page=PER_PAGE, libraries=libraries,
        args={k: v for k, v in request.args.items() if k in FILTERS},
        labels=STATUS_LABELS[lang],
        staff_statuses=STAFF_STATUSES, may_change=_role() in ("archivist", "admin"),
        done=request.args.get("done", ""))


@blueprint.post("/holdings/items/status")
@require_roles(*WRITERS)
def change_status_form():
    """The status form of /holdings/items (its CSRF token is checked before this runs)."""
    from repository.holdings.register import set_status
    from repository.holdings.vocabulary import parse_status
    try:
        status = parse_status(request.form.get("status", ""))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    library, shelfmark = request.form.get("library", ""), request.form.get("shelfmark", "")
    with _services().catalog.session() as session:
        set_status(session, library, shelfmark, status, agent=current_user().name, via="web",
                   note=request.form.get("note", ""))
    return redirect(url_for("holdings.items_page", library=library, done=shelfmark), 303)


def _role() -> str | None:
    user = current_user()
    return user.role if user else None


def _list_items():
    from repository.holdings.links import item_aip_state
    from repository.holdings.models import HoldingCollection, HoldingItem, HoldingLibrary
    from repository.holdings.vocabulary import PRESERVED, PUBLISHED, STATUSES
    from sqlalchemy import case, or_
    page, per_page = paging(PER_PAGE, MAX_PER_PAGE)
    state = item_aip_state(date.today())
    effective = case((state.c.published == 1, PUBLISHED), (state.c.item_id.is_not(None), PRESERVED),
                     else_=HoldingItem.status)
    query = (select(HoldingItem, HoldingLibrary.name, HoldingCollection.name, effective)
             .join(HoldingLibrary, HoldingLibrary.id == HoldingItem.library_id)
             .outerjoin(HoldingCollection, HoldingCollection.id == HoldingItem.collection_id)
             .outerjoin(state, state.c.item_id == HoldingItem.id))
    args = request.args
    if args.get("library"):
        query = query.where(HoldingLibrary.name == args["library"].strip())
    if args.get("collection"):
        query = query.where(HoldingCollection.name == args["collection"].strip())
    if args.get("status"):
        if args["status"] not in STATUSES:
            raise UsageError(f"status must be one of {', '.join(STATUSES)}")
        query = query.where(effective == args["status"])
    if args.get("rare"):
        if args["rare"] not in ("true", "false"):
            raise UsageError("rare must be true or false")
        query = query.where(HoldingItem.rare.is_(args["rare"] == "true"))
    if args.get("q"):
        from repository.metadata.text import fold_for_search
        folded = f"%{fold_for_search(args['q'])}%"
        query = query.where(or_(HoldingItem.shelfmark_key.like(folded),
                                func.lower(HoldingItem.title).like(f"%{args['q'].strip().lower()}%")))
    with _services().catalog.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = session.execute(query.order_by(HoldingItem.priority.is_(None), HoldingItem.priority,
                                              HoldingItem.shelfmark)
                               .limit(per_page).offset((page - 1) * per_page)).all()
        libraries = list(session.scalars(select(HoldingLibrary.name).order_by(HoldingLibrary.name)))
        items = [{"library": lib, "collection": coll, "shelfmark": item.shelfmark,
                  "title": item.title, "parallel_titles": item.parallel_titles,
                  "creator": item.creator, "date": item.date, "rare": item.rare,
                  "pages": item.pages, "priority": item.priority, "status": status,
                  "staff_status": item.status}
                 for item, lib, coll, status in rows]
    return page, items, total, libraries


# --- the JSON API --------------------------------------------------------------------------

@blueprint.get("/api/v1/holdings/report")
@require_roles(*READERS)
def api_report():
    from repository.holdings.export import report_document
    report = _build(request.args.get("library", "").strip())
    fmt = request.args.get("format", "json")
    if fmt != "json":
        return _export(report, fmt)
    return jsonify(report_document(report))


@blueprint.get("/api/v1/holdings/items")
@require_roles(*READERS)
def api_items():
    page, items, total, _libraries = _list_items()
    return jsonify({"items": items, "total": total, "page": page})


@blueprint.get("/api/v1/holdings/libraries/<library>/items/<path:shelfmark>")
@require_roles(*READERS)
def api_item(library: str, shelfmark: str):
    from repository.holdings.progress import item_document
    from repository.holdings.register import find_item
    with _services().catalog.session() as session:
        return jsonify(item_document(session, find_item(session, library, shelfmark)))


@blueprint.patch("/api/v1/holdings/libraries/<library>/items/<path:shelfmark>")
@require_roles(*WRITERS)
def api_change_item(library: str, shelfmark: str):
    """{"status": "selected", "note": "…"}: a staff status, recorded with who and when."""
    from repository.holdings.progress import item_document
    from repository.holdings.register import set_status
    from repository.holdings.vocabulary import parse_status
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise UsageError('send JSON {"status": "selected"} (and optionally "note")')
    if not isinstance(body.get("note", ""), str):
        raise UsageError('"note" must be text')
    try:
        status = parse_status(body["status"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with _services().catalog.session() as session:
        item = set_status(session, library, shelfmark, status, agent=current_user().name,
                          via="api", note=body.get("note", ""))
        session.flush()
        return jsonify(item_document(session, item))


@blueprint.post("/api/v1/holdings/libraries/<library>/register")
@require_roles(*WRITERS)
def api_import(library: str):
    """The register file as the request body (CSV or MARC); ?dry_run=true to check only."""
    from repository.holdings.reading import read_register
    from repository.holdings.register import import_register
    settings = _services().settings
    data = request.get_data(cache=False)
    if not data:
        raise UsageError("send the register file (CSV, MARC 21 or MARCXML) as the request body")
    dry_run = flag(request.args.get("dry_run"), "dry_run")
    try:
        records, how = read_register(data, name=request.args.get("filename", "the register"),
                                     fmt=request.args.get("format", "auto"),
                                     rare_before=settings.holdings_rare_before)
    except RegisterInvalid as exc:
        response = jsonify({"error": "RegisterInvalid", "message": str(exc),
                            "problems": [p.as_dict() for p in exc.problems]})
        response.status_code = 422
        return response
    with _services().catalog.session() as session:
        summary = import_register(session, library, records, agent=current_user().name,
                                  via="csv" if how.startswith("CSV") else "marc", dry_run=dry_run,
                                  default_collection=request.args.get("collection") or None)
        summary.encoding = how
        if dry_run:
            session.rollback()
    return jsonify({"imported": not dry_run, **summary.as_dict()}), 200 if dry_run else 201


@blueprint.put("/api/v1/holdings/targets")
@require_roles(*WRITERS)
def api_target():
    """{"library": …, "collection": … (optional), "share": 0.8, "deadline": "2028-12-31"}."""
    from repository.holdings.register import set_target
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("library"), str):
        raise UsageError('send JSON {"library": NAME, "share": 0.8, "deadline": "YYYY-MM-DD"}')
    if not isinstance(body.get("collection") or "", str):
        raise UsageError('"collection" must be a collection\'s name')
    if isinstance(body.get("share"), bool):  # float(True) is 1.0, but true is not a share
        raise UsageError("share is a number between 0 and 1, deadline a date YYYY-MM-DD")
    try:
        share = float(body.get("share"))
        deadline = date.fromisoformat(body["deadline"]) if body.get("deadline") else None
    except (TypeError, ValueError):
        raise UsageError("share is a number between 0 and 1, deadline a date YYYY-MM-DD") from None
    with _services().catalog.session() as session:
        set_target(session, share, deadline, library=body["library"],
                   collection=body.get("collection") or None)
    return jsonify({"library": body["library"], "collection": body.get("collection"),
                    "share": share, "deadline": deadline.isoformat() if deadline else None})


TEXT = {
    "vi": {
        "title": "Chương trình số hoá tài liệu cổ, quý hiếm",
        "subtitle": "Tiến độ so với mục tiêu",
        "all_libraries": "Tất cả thư viện", "show": "Xem", "library": "Thư viện",
        "collection": "Sưu tập", "no_collection": "(không thuộc sưu tập)",
        "items": "Tài liệu", "rare_items": "Tài liệu quý hiếm", "preserved": "Đã lưu trữ",
        "published": "Đã công bố", "progress": "Tiến độ", "target": "Mục tiêu",
        "deadline": "Hạn", "pages": "Số trang", "progress_pages": "Tiến độ theo trang",
        "projection": "Dự kiến đạt mục tiêu", "on_track": "kịp hạn", "late": "chậm so với hạn",
        "reached": "đã đạt mục tiêu", "no_pace": "chưa có tài liệu quý hiếm nào được lưu trữ "
        "trong {months} tháng qua: chưa thể dự báo",
        "pace": "Nhịp độ: {pace} tài liệu quý hiếm/tháng (trong {months} tháng gần nhất)",
        "remaining": "Còn {remaining} tài liệu quý hiếm để đạt {target} ({needed} tài liệu)",
        "chart_title": "Số tài liệu được lưu trữ mỗi tháng",
        "chart_label": "Biểu đồ số tài liệu được lưu trữ mỗi tháng", "items_unit": "tài liệu",
        "chart_empty": "Chưa có tài liệu nào được lưu trữ",
        "left_title": "Tài liệu quý hiếm còn lại theo mức ưu tiên", "priority": "Ưu tiên",
        "status_title": "Tài liệu theo trạng thái", "status": "Trạng thái",
        "export": "Tải xuống", "print_hint": "In trang này (Ctrl+P) để có báo cáo giấy.",
        "generated": "Số liệu lúc", "items_link": "Danh sách tài liệu và cập nhật trạng thái",
        "per_library": "Theo thư viện và sưu tập", "shelfmark": "Ký hiệu xếp giá",
        "title_col": "Nhan đề", "rare": "Quý hiếm", "yes": "có", "no": "không",
        "change": "Cập nhật", "note": "Ghi chú", "filter": "Lọc", "search": "Tìm ký hiệu, nhan đề",
        "saved": "Đã cập nhật {shelfmark}.", "total": "{total} tài liệu", "back": "Về bảng tiến độ",
        "next": "Trang sau", "prev": "Trang trước", "any": "tất cả",
    },
    "en": {
        "title": "Digitisation programme: old, rare and valuable documents",
        "subtitle": "Progress against the target",
        "all_libraries": "All libraries", "show": "Show", "library": "Library",
        "collection": "Collection", "no_collection": "(no collection)",
        "items": "Items", "rare_items": "Rare items", "preserved": "Preserved",
        "published": "Published", "progress": "Progress", "target": "Target",
        "deadline": "Deadline", "pages": "Pages", "progress_pages": "Progress by pages",
        "projection": "Target reached (projected)", "on_track": "on time",
        "late": "after the deadline", "reached": "target reached",
        "no_pace": "no rare item preserved in the last {months} months: no projection yet",
        "pace": "Pace: {pace} rare items a month (over the last {months} months)",
        "remaining": "{remaining} rare items left to reach {target} ({needed} items)",
        "chart_title": "Items preserved per month",
        "chart_label": "Chart of items preserved per month", "items_unit": "items",
        "chart_empty": "Nothing preserved yet",
        "left_title": "Rare items left, by priority", "priority": "Priority",
        "status_title": "Items by status", "status": "Status",
        "export": "Download", "print_hint": "Print this page (Ctrl+P) for a paper report.",
        "generated": "Figures as of", "items_link": "Items and their statuses",
        "per_library": "Per library and collection", "shelfmark": "Shelfmark",
        "title_col": "Title", "rare": "Rare", "yes": "yes", "no": "no",
        "change": "Update", "note": "Note", "filter": "Filter", "search": "Shelfmark or title",
        "saved": "{shelfmark} updated.", "total": "{total} items", "back": "Back to progress",
        "next": "Next page", "prev": "Previous page", "any": "any",
    },
}
