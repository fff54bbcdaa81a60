"""The administrators' pages: users (create, role, password, disable, revoke), collections,
storage locations with whether each is reachable now."""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _

from repository.catalog import (ROLES, add_user, list_collections, list_users,
                                revoke_credentials, set_active, set_password, set_role)
from repository.errors import StorageError, UsageError
from repository.web.auth import require_roles

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


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


@blueprint.get("/collections")
@require_roles("admin")
def collections():
    with _services().catalog.session() as session:
        rows = [(c.name, c.title, c.access, len(c.aips)) for c in list_collections(session)]
    return render_template("admin/collections.html", collections=rows)


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
