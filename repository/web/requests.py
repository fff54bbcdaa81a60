"""Every name that comes in over HTTP arrives as UTF-8 text in NFC, whichever door it used.

WSGI (PEP 3333) hands the application the request's bytes as latin-1 strings. Two things
go wrong without care:

* werkzeug's development server (`kho serve`) encodes a *raw* UTF-8 query string or path
  (as curl sends ``?collection=Địa bạ``) to UTF-8 a second time, so ``Địa bạ`` arrives as
  ``Äá»a báº¡``. Percent-encoded input is not affected, which is why browsers never hit it.
* header values are latin-1 by the letter of RFC 9110, but clients send UTF-8.

Then macOS and some input methods send decomposed (NFD) Vietnamese, which must compare
equal to what is stored (NFC).
"""
from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.utils import cached_property


def nfc(value: Any) -> Any:
    """``value`` with every string in it (also inside lists and dicts) in NFC."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [nfc(v) for v in value]
    if isinstance(value, dict):
        return {nfc(k): nfc(v) for k, v in value.items()}
    return value


def _undo_double_utf8(text: str) -> str:
    """A latin-1 string that werkzeug's dev server made by UTF-8-encoding latin-1 bytes once
    too often, back to the latin-1 string of the bytes that were sent."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def header_text(value: str) -> str:
    """A header value as text: its bytes read as UTF-8 when they are UTF-8, else latin-1."""
    if value.isascii():
        return value
    try:
        return unicodedata.normalize("NFC", value.encode("latin-1").decode("utf-8"))
    except (UnicodeEncodeError, UnicodeDecodeError):
        return unicodedata.normalize("NFC", value)


class RawUtf8Repair:
    """WSGI middleware: undo the dev server's double encoding of raw UTF-8 in the request
    line, and read UTF-8 header values as UTF-8."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ: dict, start_response):
        if str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/"):
            self.repair_dev_server(environ)
        for key, value in list(environ.items()):
            if key.startswith("HTTP_") and isinstance(value, str) and not value.isascii():
                environ[key] = header_text(value)
        return self.app(environ, start_response)


    @staticmethod
    def repair_dev_server(environ: dict) -> None:
        """The dev server's query string is always the raw one, encoded once too often; its
        PATH_INFO mixes that with correctly percent-decoded text, so it is rebuilt from
        the raw request target (REQUEST_URI), the one source that is all one kind."""
        for key in ("QUERY_STRING", "REQUEST_URI", "RAW_URI"):
            if isinstance(environ.get(key), str):
                environ[key] = _undo_double_utf8(environ[key])
        target = environ.get("REQUEST_URI", "")
        if (isinstance(target, str) and target.startswith("/") and not target.isascii()
                and not environ.get("SCRIPT_NAME")):
            raw_path = target.split("?", 1)[0].encode("latin-1")
            environ["PATH_INFO"] = unquote_to_bytes(raw_path).decode("latin-1")


class KhoRequest(Request):
    """A request whose query arguments, form fields and JSON strings are NFC."""

    @cached_property
    def args(self) -> ImmutableMultiDict:
        return ImmutableMultiDict([(nfc(k), nfc(v)) for k, v in super().args.items(multi=True)])

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__.get("form")
        if form is not None:
            self.__dict__["form"] = ImmutableMultiDict(
                [(nfc(k), nfc(v)) for k, v in form.items(multi=True)])

    def get_json(self, *args, **kwargs):  # type: ignore[override]
        return nfc(super().get_json(*args, **kwargs))


def install_request_decoding(app: Flask) -> None:
    """Make every door of ``app`` hand views UTF-8, NFC text (path, query, form, JSON, headers)."""
    app.request_class = KhoRequest
    app.wsgi_app = RawUtf8Repair(app.wsgi_app)  # type: ignore[method-assign]

    @app.url_value_preprocessor
    def nfc_path_values(_endpoint, values):
        if values:
            values.update({k: nfc(v) for k, v in values.items()})
