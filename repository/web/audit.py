"""The auditor's pages: /audit/fixity (coverage, plot, failures, filters, CSV), one AIP's
history and PREMIS, and the event log's hash-chain check (``kho audit verify``) on demand.

Same layout and session as every page: an auditor (or admin) signs in; scripts may send
``Authorization: Bearer``. No token ever travels in a link.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from repository.catalog.copies import aip_copy_status
from repository.catalog.chain_checks import last_chain_check, record_chain_check
from repository.errors import NotFound, UsageError
from repository.web.auth import current_user, require_roles

blueprint = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


@blueprint.get("/fixity")
@require_roles("auditor")
def fixity_summary():
    from repository.catalog import list_collections
    from repository.fixity.models import OUTCOMES
    from repository.fixity.report import build_report, plot_svg, render_csv
    services = current_app.extensions["kho"]
    outcome = request.args.get("outcome") or None
    if outcome and outcome not in OUTCOMES:
        raise UsageError(f"outcome must be one of {', '.join(OUTCOMES)}")
    filters = {"since": request.args.get("since", ""), "until": request.args.get("until", ""),
               "collection": request.args.get("collection", ""), "outcome": outcome or ""}
    with services.catalog.session() as session:
        report = build_report(session, services.settings, since=_day("since"),
                              until=_day("until"), collection=filters["collection"] or None,
                              outcome=outcome)
        collections = [c.name for c in list_collections(session)]
    if request.args.get("format") == "csv":
        return Response(render_csv(report), mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": "attachment; filename=kho-fixity.csv"})
    csv_url = url_for("audit.fixity_summary", format="csv",
                      **{k: v for k, v in filters.items() if v})
    words = {"title": _("Checks and failures per day"), "checks": _("AIP checks"),
             "failed": _("failed or error"), "none": _("No checks in this period"),
             # formatted by the plot, one bar at a time
             "day_checks": _("%(n)s checks"),
             "day_problems": _("%(failures)s failed, %(errors)s errors")}
    return render_template("audit/fixity.html", report=report,
                           plot=Markup(plot_svg(report.per_day, words=words)),
                           filters=filters, outcomes=OUTCOMES, csv_url=csv_url,
                           collections=collections,
                           verify=last_chain_check(services.settings))


@blueprint.get("/fixity/<aip_id>")
@require_roles("auditor")
def fixity_aip(aip_id: str):
    from repository.catalog import Aip
    from repository.fixity.models import FixityCheck, FixityResult, OK
    services = current_app.extensions["kho"]
    with services.catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == aip_id))
        if aip is None:
            raise NotFound(f"no AIP {aip_id!r}")
        checks = session.scalars(select(FixityCheck).where(FixityCheck.aip_id == aip.id)
                                 .order_by(FixityCheck.started_at.desc()).limit(500)).all()
        problems = session.scalars(select(FixityResult).where(
            FixityResult.aip_identifier == aip_id, FixityResult.outcome != OK)
            .order_by(FixityResult.checked_at.desc()).limit(1000)).all()
        title = aip.dublin_core.title if aip.dublin_core else ""
        location = aip.location
        copies = aip_copy_status(services.settings, session, aip)
    return render_template("audit/fixity_aip.html", aip_id=aip_id, title=title,
                           location=location, checks=checks, problems=problems, copies=copies)


@blueprint.post("/verify")
@require_roles("auditor")
def verify():
    """Check the PREMIS event log's hash chain now (as ``kho audit verify``) and keep the result."""
    from repository.catalog import verify_chain
    from repository.catalog.chain_store import newest_stored_head
    from repository.storage import load_locations
    services = current_app.extensions["kho"]
    stored = newest_stored_head(load_locations(services.settings).values())
    with services.catalog.session() as session:
        result = verify_chain(session, expected_head=stored[0] if stored else None)
        record_chain_check(services.settings, result, by=current_user().name)
    return redirect(url_for("audit.fixity_summary") + "#verify", code=303)
