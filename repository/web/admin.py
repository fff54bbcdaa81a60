"""The administrators' pages: users (create, role, password, disable, revoke), collections
(create, title and description, access, delete an empty one), storage locations with whether each is reachable now."""
from __future__ import annotations

import unicodedata

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import ngettext

from repository.catalog import (ROLES, add_user, list_collections, list_users,
                                revoke_credentials, set_active, set_password, set_role)
from repository.catalog.collections import CollectionExists, CollectionNotEmpty
from repository.errors import KhoError, NotFound, StorageError, UsageError
from repository.web.auth import current_user, require_roles

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


ACCESS_LEVELS = ("public", "restricted", "embargoed")


def _services():
    return current_app.extensions["kho"]


@blueprint.route("/users", methods=["GET", "POST"])
@require_roles("admin")
def users():
    """List users; a POST creates one (name, role, password) or changes one (``action``)."""
    if request.method == "POST":
        action = request.form.get("action", "create")
        name = request.form.get("name", "")
        with _services().catalog.session() as session:
            if action == "create":
                add_user(session, name, request.form.get("role", ""),
                         password=request.form.get("password", ""))
                flash(_("User %(name)s created.", name=name))
            elif action == "role":
                set_role(session, name, request.form.get("role", ""))
                flash(_("Role of %(name)s changed.", name=name))
            elif action == "password":
                set_password(session, name, request.form.get("password", ""))
                flash(_("Password of %(name)s reset; their sessions have ended.", name=name))
            elif action in ("disable", "enable"):
                set_active(session, name, action == "enable")
                flash(_("%(name)s disabled.", name=name) if action == "disable"
                      else _("%(name)s enabled.", name=name))
            elif action == "revoke":
                revoke_credentials(session, name)
                flash(_("Sessions and API token of %(name)s revoked.", name=name))
            else:
                raise UsageError(f"action: {action!r} is not one this page knows")
        return redirect(url_for("admin.users"), code=303)
    with _services().catalog.session() as session:
        people = list_users(session)
        return render_template("admin/users.html", users=people, roles=ROLES)


@blueprint.route("/collections", methods=["GET", "POST"])
@require_roles("admin")
def collections():
    """List collections; a POST creates one, changes its title and description or its access,
    or deletes an empty one (``action``), each through the catalogue's collection functions."""
    if request.method == "POST":
        action = request.form.get("action", "create")
        try:
            message = _change_collections(action)
        except (UsageError, NotFound) as exc:
            # The page again, with what the admin typed and why it was refused; the session
            # rolled back, so nothing was half-written.
            status = 404 if isinstance(exc, NotFound) else 409 if isinstance(
                exc, (CollectionExists, CollectionNotEmpty)) else 400
            return _collections_page(error=_collection_problem(exc), action=action), status
        flash(message)
        return redirect(url_for("admin.collections"), code=303)
    return _collections_page()


def _collections_page(error: str = "", action: str = ""):
    with _services().catalog.session() as session:
        rows = [{"name": c.name, "title": c.title, "description": c.description or "",
                 "access": c.access, "embargo_until": c.embargo_until, "aips": len(c.aips)}
                for c in list_collections(session)]
    form = request.form if action == "create" else {}
    return render_template("admin/collections.html", collections=rows, error=error,
                           form=form, levels=ACCESS_LEVELS)


def _form_access() -> str:
    """The access the form asks for, as ``parse_access`` reads it; the embargo's end date
    comes from its own date field."""
    level = request.form.get("access", "")
    if level != "embargoed":
        return level
    until = request.form.get("embargo_until", "").strip()
    if not until:
        raise EmbargoDateMissing()
    return f"embargoed:{until}"


def _change_collections(action: str) -> str:
    """Do what the form asks; returns the message to show once it is done."""
    from repository.access.rights import parse_access
    from repository.catalog.collection_access import change_collection_access
    from repository.catalog.collections import (add_collection, delete_collection,
                                                rename_collection, require_collection)
    name = request.form.get("name", "")
    if action == "access":
        # One way to change a collection's access, as the API's: storage first, then the
        # catalogue, so a rebuilt catalogue keeps it (catalog/collection_access.py).
        policy = parse_access(_form_access())
        with _services().catalog.session() as session:
            name = require_collection(session, name).name
        changed = change_collection_access(
            _services().settings, _services().catalog, name, level=policy.level,
            embargo_until=policy.embargo_until, agent=current_user().name)
        return _("Access to %(name)s changed.", name=changed["name"])
    with _services().catalog.session() as session:
        if action == "create":
            found = add_collection(session, name, title=request.form.get("title", ""),
                                   description=request.form.get("description", ""),
                                   access=_form_access())
            return _("Collection %(name)s created.", name=found.name)
        if action == "rename":
            found = rename_collection(session, name, title=request.form.get("title", ""),
                                      description=request.form.get("description", ""))
            return _("Title and description of %(name)s saved.", name=found.name)
        if action == "delete":
            delete_collection(session, name)
            return _("Collection %(name)s deleted.", name=name)
    raise UsageError(f"action: {action!r} is not one this page knows")


class EmbargoDateMissing(UsageError):
    """An embargo was chosen without the date it ends."""

    def __init__(self):
        super().__init__("embargo_until: an embargo needs the date it ends")


def _collection_problem(exc: KhoError) -> str:
    """Why the collections form was refused, in the reader's language."""
    from repository.catalog.collections import NAME_MAX, UnknownCollection
    form = request.form
    if isinstance(exc, CollectionExists):
        return _("A collection named %(name)s already exists.", name=exc.name)
    if isinstance(exc, CollectionNotEmpty):
        return ngettext("%(name)s still holds %(num)d AIP; only an empty collection can be "
                        "deleted.", "%(name)s still holds %(num)d AIPs; only an empty "
                        "collection can be deleted.", exc.held, name=exc.name)
    if isinstance(exc, UnknownCollection):
        return _("There is no collection named %(name)s.", name=exc.name)
    if isinstance(exc, EmbargoDateMissing):
        return _("Choose the date the embargo ends.")
    if not form.get("name", "").strip():
        return _("A collection needs a name.")
    if len(form.get("name", "").strip()) > NAME_MAX or any(
            unicodedata.category(c) == "Cc" for c in form.get("name", "")):
        return _("A collection name is at most %(max)d characters, without control "
                 "characters.", max=NAME_MAX)
    if form.get("action") == "rename" and not form.get("title", "").strip():
        return _("A collection's title cannot be empty.")
    if form.get("action") in ("create", "access") and form.get("access") not in ACCESS_LEVELS:
        return _("Access must be public, restricted or embargoed until a date.")
    if form.get("access") == "embargoed":
        return _("The embargo's end date is not a date (YYYY-MM-DD).")
    return _("The collection could not be changed: %(reason)s", reason=str(exc))


@blueprint.get("/storage")
@require_roles("admin")
def storage():
    """Each storage location, its kind and whether it answers now."""
    from repository.storage.locations import load_locations
    settings = _services().settings
    rows = []
    for name, location in sorted(load_locations(settings).items()):
        try:
            location.check_reachable()
            problem = ""
        except StorageError as exc:
            problem = str(exc)
        rows.append({"name": name, "kind": location.kind, "where": location.describe(),
                     "default": name == settings.default_location, "problem": problem})
    return render_template("admin/storage.html", locations=rows)
