"""The archivists' pages: deposit (upload with progress, or a bag from the drop folder),
follow a deposit live, list deposits, edit an AIP's Dublin Core and access.

Every change goes through the same room functions as the API (ingest/deposits.py,
ingest/amend.py): a deposit is the API's deposit, an edit is a new OCFL version and a
PREMIS event. Uploads go straight to ``POST /api/v1/deposits`` from the page's script
(streamed to staging, with the form's CSRF token in a header).
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import Path

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from sqlalchemy import select

from repository.catalog import get_aip, list_collections
from repository.catalog.collections import require_collection
from repository.errors import PackageInvalid, PermissionDenied, UsageError
from repository.ingest.amend import amend_aip
from repository.ingest.deposits import create_deposit, drop_folder_path, get_deposit
from repository.ingest.models import Deposit
from repository.metadata.dublin_core import ELEMENTS
from repository.web.auth import current_user, require_roles
from repository.web.deposit import on_workers, require_deposit_runner, start_deposit

blueprint = Blueprint("archive", __name__, template_folder="templates")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "validation-codes.md"
DEPOSIT_STEPS = ("received", "validating", "storing", "done")
ACCESS_CHOICES = ("public", "restricted", "embargoed")


def _services():
    return current_app.extensions["kho"]


def _drop_folder_bags() -> list[str]:
    folder = _services().settings.drop_folder
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))


def _access_value(form) -> str:
    access = form.get("access", "public")
    if access == "embargoed":
        until = form.get("embargo_until", "").strip()
        if not until:
            raise UsageError("embargo_until: an embargo needs the date it ends")
        return f"embargoed:{until}"
    if access not in ACCESS_CHOICES:
        raise UsageError(f"access: must be one of {', '.join(ACCESS_CHOICES)}")
    return access


@blueprint.route("/deposit", methods=["GET", "POST"])
@require_roles("archivist")
def deposit_form():
    """The form; a POST here deposits a bag from the drop folder (uploads go to the API)."""
    if request.method == "POST":
        settings = _services().settings
        collection = unicodedata.normalize("NFC", request.form.get("collection", "").strip())
        if not collection:
            raise UsageError("collection: choose a collection")
        with _services().catalog.session() as session:
            # As the API does: refused now, not recorded as a deposit that can only fail.
            collection = require_collection(session, collection).name
        source = drop_folder_path(settings, request.form.get("path", ""))
        access = _access_value(request.form)
        require_deposit_runner(settings)
        deposit_id = str(uuid.uuid4())
        create_deposit(_services().catalog, source=str(source), collection=collection,
                       depositor=current_user().name, access=access,
                       identifier=deposit_id, queued=on_workers(settings))
        start_deposit(deposit_id, source, remove_after=False)
        return redirect(url_for("archive.deposit_page", identifier=deposit_id), code=303)
    with _services().catalog.session() as session:
        collections = [c.name for c in list_collections(session)]
    return render_template("archive/deposit.html", collections=collections,
                           bags=_drop_folder_bags(), access_choices=ACCESS_CHOICES)


@blueprint.get("/deposits")
@require_roles("archivist")
def deposits():
    """The signed-in archivist's deposits; an admin sees everyone's."""
    user = current_user()
    with _services().catalog.session() as session:
        query = select(Deposit).order_by(Deposit.created_at.desc()).limit(500)
        if user.role != "admin":
            query = query.where(Deposit.depositor == user.name)
        rows = [get_deposit(_services().catalog, d.identifier) for d in session.scalars(query)]
    return render_template("archive/deposits.html", deposits=rows, everyone=user.role == "admin")


@blueprint.get("/deposits/<identifier>")
@require_roles("archivist")
def deposit_page(identifier: str):
    deposit = get_deposit(_services().catalog, identifier)
    user = current_user()
    if user.role != "admin" and deposit["depositor"] != user.name:
        raise PermissionDenied("this deposit is another archivist's; an admin sees every deposit")
    return render_template("archive/deposit_status.html", deposit=deposit, steps=DEPOSIT_STEPS,
                           docs_url=url_for("archive.validation_codes"))


@blueprint.get("/help/validation-codes")
def validation_codes():
    """docs/validation-codes.md as a page, each code with its own anchor (report links)."""
    rows = []
    if DOCS.is_file():
        for line in DOCS.read_text("utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 3 and re.fullmatch(r"K\d{3}", cells[0]):
                rows.append((cells[0], cells[1], cells[2].replace("`", "")))
    return render_template("archive/validation_codes.html", rows=rows)


def _record_from_form(form) -> dict:
    """The Dublin Core record typed into the edit form: rows of element, value, language."""
    record: dict[str, list[dict]] = {}
    for element, value, lang in zip(form.getlist("element"), form.getlist("value"),
                                    form.getlist("lang")):
        value = unicodedata.normalize("NFC", value.strip())
        if not value:
            continue
        item = {"value": value}
        if lang.strip():
            item["lang"] = lang.strip()
        record.setdefault(element.strip(), []).append(item)
    return record


@blueprint.route("/aips/<identifier>/edit", methods=["GET", "POST"])
@require_roles("archivist")
def edit_aip(identifier: str):
    """Edit the Dublin Core (validated; problems shown by field) or the access of an AIP."""
    services = _services()
    problems, record = [], None
    if request.method == "POST":
        try:
            if request.form.get("change") == "access":
                amend_aip(services.settings, services.catalog, identifier,
                          agent=current_user().name, access=_access_value(request.form))
                flash(_("Access changed: saved as a new version."))
            else:
                record = _record_from_form(request.form)
                amend_aip(services.settings, services.catalog, identifier,
                          agent=current_user().name, dublin_core=record)
                flash(_("Description saved as a new version."))
            return redirect(url_for("archive.edit_aip", identifier=identifier), code=303)
        except PackageInvalid as exc:
            problems = exc.report.as_dict().get("errors", [])
        except UsageError as exc:
            problems = [{"code": "", "path": "", "message": str(exc)}]
    with services.catalog.session() as session:
        aip = get_aip(session, identifier)
        if record is None:
            record = aip.dublin_core.record if aip.dublin_core else {}
        rows = [(element, v.get("value", ""), v.get("lang", ""))
                for element, values in record.items() for v in values if isinstance(v, dict)]
        status = 422 if problems else 200
        return render_template("archive/edit.html", aip=aip, rows=rows, elements=ELEMENTS,
                               problems=problems, access_choices=ACCESS_CHOICES), status
