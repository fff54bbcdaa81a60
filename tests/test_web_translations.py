"""Every string of the web pages is translated into Vietnamese and English."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[1] / "repository" / "web"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _strings_in_the_code() -> set:
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    return {message for _, _, message, _, _ in extract_from_dir(
        str(WEB), method_map=method_map, keywords=KEYWORDS) if message}


def _catalogue(language: str):
    with open(WEB / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_every_template_and_page_string_has_a_vietnamese_and_an_english_translation():
    wanted = _strings_in_the_code()
    assert len(wanted) > 150  # the extraction really read the templates
    for language in ("vi", "en"):
        catalogue = _catalogue(language)
        missing = []
        for message_id in wanted:
            entry = catalogue.get(message_id)
            strings = entry.string if entry is not None and isinstance(entry.string, tuple) \
                else (entry.string,) if entry is not None else ("",)
            if entry is None or entry.fuzzy or not all(strings):
                missing.append(message_id)
        assert not missing, f"{language}: no translation for {sorted(map(str, missing))}"


def test_vietnamese_catalogue_really_translates_and_keeps_placeholders():
    catalogue = _catalogue("vi")
    assert catalogue.get("Sign in").string == "Đăng nhập"
    for message in catalogue:
        if message.id and isinstance(message.id, str) and "%(" in message.id:
            names = sorted(part.split(")")[0] for part in message.id.split("%(")[1:])
            got = sorted(part.split(")")[0] for part in message.string.split("%(")[1:])
            assert names == got, f"placeholders differ in {message.id!r}"
