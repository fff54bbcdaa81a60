"""Request input checked at the door: a clear 400 naming the field, never a 500 later.

Bad input (a JSON body that is not an object, NUL bytes, names longer than the catalogue
holds, numbers out of range) is refused here, before any room sees it.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from flask import Flask, request

from repository.catalog.queries import MAX_PAGE  # every listing's bound, web or not
from repository.errors import UsageError

MAX_NAME = 200  # the catalogue's name columns (collections, locations)
MAX_TEXT = 4000


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_bytes():
        # PostgreSQL cannot hold NUL in text, and no name or identifier has one.
        if "\x00" in request.path or any("\x00" in k or "\x00" in v
                                         for k, v in request.args.items(multi=True)):
            raise UsageError("the URL holds a NUL byte (%00), which no Kho name or value may hold")


def whole_number(name: str, default: int) -> int:
    """The query argument ``name`` as an int (``default`` when absent); 400 otherwise."""
    try:
        return int(request.args.get(name, default))
    except ValueError:
        raise UsageError(f"{name} must be a whole number") from None


def paging(default_per_page: int, max_per_page: int) -> tuple[int, int]:
    """``page`` and ``per_page`` from the query, each refused (400) outside its range."""
    page, per_page = whole_number("page", 1), whole_number("per_page", default_per_page)
    if not 1 <= page <= MAX_PAGE:
        raise UsageError(f"page must be between 1 and {MAX_PAGE}")
    if not 1 <= per_page <= max_per_page:
        raise UsageError(f"per_page must be between 1 and {max_per_page}")
    return page, per_page


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise UsageError("send a JSON object as the body (Content-Type: application/json)")
    return body


def text(value: Any, field: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    """``value`` as NFC text: a string without control characters, at most ``max_length``."""
    if value is None or value == "":
        if required:
            raise UsageError(f"{field} is required")
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{field} must be a string, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{field} is not valid Unicode (a lone surrogate)") from None
    value = unicodedata.normalize("NFC", value.strip())
    if required and not value:
        raise UsageError(f"{field} is required")
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise UsageError(f"{field} must not hold control characters (NUL, newline, tab …)")
    if len(value) > max_length:
        raise UsageError(f"{field} is {len(value)} characters long; at most {max_length} allowed")
    return value


def flag(value: Any, field: str) -> bool:
    """A boolean given as JSON true/false or as 1/0, true/false, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    word = str(value).strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise UsageError(f"{field} must be true or false, not {value!r}")
