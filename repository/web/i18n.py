"""Vietnamese and English pages: gettext catalogues (Flask-Babel), the reader's choice of
language (a cookie, Vietnamese until they choose), dates and numbers in that locale.

The catalogues live in ``repository/web/translations/<lang>/LC_MESSAGES/messages.po``; the
compiled ``.mo`` files are built by the set-up (``make translations``) and, as a safety net
for an install that skipped it, by the app factory whenever one is missing or older.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, request
from flask_babel import Babel, format_date, format_datetime, format_decimal, get_locale
from flask_babel import gettext as _

from repository.catalog.visibility import AgentWords

LANGUAGES = ("vi", "en")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}
LANGUAGE_COOKIE = "kho_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
log = logging.getLogger(__name__)


def reader_language() -> str:
    """The language the reader chose (cookie), else the configured default (Vietnamese)."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    default = current_app.extensions["kho"].settings.default_language
    return default if default in LANGUAGES else "vi"


def compile_catalogues(folder: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` whose ``.mo`` is missing or older; returns those written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    written = []
    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parts[-3])
        try:
            with mo.open("wb") as target:
                write_mo(target, catalogue)
        except OSError as exc:  # a read-only install: the set-up should have compiled them
            log.warning("cannot compile %s: %s", po, exc)
            continue
        written.append(mo)
    return written


def _number(value, digits: int = 0) -> str:
    if value is None:
        return ""
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


def _filesize(size: int | None) -> str:
    if size is None:
        return ""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if size >= scale:
            return f"{format_decimal(size / scale, format='#,##0.0')} {unit}"
    return f"{format_decimal(size)} B"


def access_name(access: str) -> str:
    return {"public": _("public"), "restricted": _("restricted"),
            "embargoed": _("embargoed")}.get(access, access)


def status_name(status: str) -> str:
    return {"received": _("received"), "validating": _("validating"), "storing": _("storing"),
            "done": _("done"), "failed": _("failed")}.get(status, status)


def level_name(level: str) -> str:
    return {"error": _("error"), "warning": _("warning")}.get(level, level)


def event_type_name(event_type: str) -> str:
    """A PREMIS event type (the Library of Congress vocabulary, catalog/events.py) as read.

    All of them, not only those Kho writes today: a catalogue rebuilt from storage replays
    whatever aip.json recorded."""
    return {
        "accession": _("accession"), "appraisal": _("appraisal"), "capture": _("capture"),
        "compiling": _("compiling"), "compression": _("compression"),
        "creation": _("creation"), "deaccession": _("deaccession"),
        "decompression": _("decompression"), "decryption": _("decryption"),
        "deletion": _("deletion"),
        "digital signature generation": _("digital signature generation"),
        "digital signature validation": _("digital signature validation"),
        "displaying": _("displaying"), "dissemination": _("dissemination"),
        "encryption": _("encryption"), "execution": _("execution"),
        "exporting": _("exporting"), "extraction": _("extraction"),
        "filename change": _("filename change"), "fixity check": _("fixity check"),
        "forensic feature analysis": _("forensic feature analysis"),
        "format identification": _("format identification"), "imaging": _("imaging"),
        "information package creation": _("information package creation"),
        "information package merging": _("information package merging"),
        "information package splitting": _("information package splitting"),
        "ingestion": _("ingestion"), "ingestion end": _("ingestion end"),
        "ingestion start": _("ingestion start"), "interpreting": _("interpreting"),
        "message digest calculation": _("message digest calculation"),
        "metadata extraction": _("metadata extraction"),
        "metadata modification": _("metadata modification"), "migration": _("migration"),
        "modification": _("modification"), "normalization": _("normalization"),
        "packing": _("packing"), "policy assignment": _("policy assignment"),
        "printing": _("printing"), "quarantine": _("quarantine"), "recovery": _("recovery"),
        "redaction": _("redaction"), "refreshment": _("refreshment"),
        "rendering": _("rendering"), "replication": _("replication"),
        "transfer": _("transfer"), "unpacking": _("unpacking"),
        "unquarantine": _("unquarantine"), "validation": _("validation"),
        "virus check": _("virus check"),
    }.get(event_type, event_type)


def agent_words() -> AgentWords:
    """Who acted, as the public is told on a page, in the reader's language."""
    from repository.web.signin import role_name
    people = {"archivist": _("an archivist"), "researcher": _("a researcher"),
              "auditor": _("an auditor"), "admin": _("an administrator")}
    return AgentWords(
        person=lambda role: people.get(role or "", _("a staff member")),
        role=lambda role: role_name(role) if role else _("staff member"),
        software_for=lambda software, person: _("%(software)s for %(person)s",
                                                software=software, person=person))


def outcome_name(outcome: str) -> str:
    """An outcome as read: a PREMIS event's (catalog/events.py), a fixity check's, or one
    file's in a check (fixity/models.py); the raw word stays only as a CSS class."""
    return {
        "success": _("success"), "failure": _("failure"), "warning": _("warning"),
        "error": _("error"), "ok": _("ok"), "changed": _("changed"),
        "missing": _("missing"), "unexpected": _("unexpected"),
        "size changed": _("size changed"), "inventory altered": _("inventory altered"),
        "sources disagree": _("sources disagree"),
    }.get(outcome, outcome)


def copy_state_name(state: str) -> str:
    """The state of one copy of an AIP (catalog/copies.py) as read."""
    return {"verified": _("verified"), "pending": _("pending"),
            "failed": _("failed")}.get(state, state)


def _iso_datetime(text: str | None, style: str = "short") -> str:
    """An ISO 8601 timestamp (as the JSON documents carry them) in the reader's locale."""
    from datetime import datetime, timezone
    if not text:
        return ""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return format_datetime(moment, style)


def init_i18n(app: Flask) -> None:
    compile_catalogues()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_LOCALE"] = "vi"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Ho_Chi_Minh"
    Babel(app, locale_selector=reader_language)
    app.jinja_env.filters.update(number=_number, filesize=_filesize,
                                 datetime=lambda v, f="medium": format_datetime(v, f) if v else "",
                                 date=lambda v, f="medium": format_date(v, f) if v else "",
                                 isodatetime=_iso_datetime)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, LANGUAGE_NAMES=LANGUAGE_NAMES,
                                 access_name=access_name, status_name=status_name,
                                 level_name=level_name, event_type_name=event_type_name,
                                 outcome_name=outcome_name, copy_state_name=copy_state_name,
                                 current_language=lambda: str(get_locale() or "vi"))
