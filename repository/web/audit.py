"""The auditor's pages: /audit/fixity (summary, plot, filters, CSV) and one AIP's history.

Auth: a Bearer token as everywhere, or, because a browser cannot send that header from a
link, the same token as ``?token=`` on these pages (auditor or admin role). Links on the
page carry the token along; serve over HTTPS so it is not exposed in transit.
"""
from __future__ import annotations

import functools
from datetime import date
from typing import Callable

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from repository.access.rights import AuthenticationRequired
from repository.errors import NotFound, PermissionDenied, UsageError

blueprint = Blueprint("audit", __name__, url_prefix="/audit", template_folder="templates")
AUDIT_ROLES = ("auditor", "admin")


def _auditor_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from repository.catalog import authenticate
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        token = token or request.args.get("token", "").strip()
        if not token:
            raise AuthenticationRequired("this page needs an auditor token: "
                                         "Authorization: Bearer <token> or ?token=<token>")
        with current_app.extensions["kho"].catalog.session() as session:
            user = authenticate(session, token)
            if user is None:
                raise AuthenticationRequired("the token is not valid")
            role = user.role
        if role not in AUDIT_ROLES:
            raise PermissionDenied(f"the {role} role may not see audit pages; it needs auditor")
        g.audit_token = request.args.get("token", "")
        return view(*args, **kwargs)
    return wrapper


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _link(endpoint: str, **values) -> str:
    if g.get("audit_token"):
        values["token"] = g.audit_token
    return url_for(endpoint, **values)


@blueprint.get("/fixity")
@_auditor_required
def fixity_summary():
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
    if request.args.get("format") == "csv":
        return Response(render_csv(report), mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": "attachment; filename=kho-fixity.csv"})
    csv_url = _link("audit.fixity_summary", format="csv",
                    **{k: v for k, v in filters.items() if v})
    return render_template("audit/fixity.html", report=report, plot=Markup(plot_svg(report.per_day)),
                           filters=filters, outcomes=OUTCOMES, csv_url=csv_url,
                           token=g.get("audit_token", ""),
                           aip_url=lambda aip: _link("audit.fixity_aip", aip_id=aip))


@blueprint.get("/fixity/<aip_id>")
@_auditor_required
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
    return render_template("audit/fixity_aip.html", aip_id=aip_id, title=title,
                           location=location, checks=checks, problems=problems,
                           back=_link("audit.fixity_summary"))
