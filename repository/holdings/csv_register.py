"""Reading a register from CSV: headings in English or Vietnamese, every bad cell reported.

The template is documented in docs/holdings.md (`kho holdings template` prints it).
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from functools import lru_cache

from repository.errors import RegisterInvalid, RowProblem
from repository.holdings.records import ItemRecord
from repository.holdings.vocabulary import (COLUMNS, LIST_SEPARATOR, shelfmark_key, STAFF_STATUSES, TEMPLATE_HEADINGS,
                                            column_for, parse_priority, parse_status,
                                            parse_yes_no)
from repository.metadata import check_date

REQUIRED = ("shelfmark", "title")
MAX_PAGES = 1_000_000


def read_csv_register(text: str, name: str = "the file") -> list[ItemRecord]:
    """Every row of a CSV register as an ItemRecord; RegisterInvalid lists every problem."""
    dialect = _dialect(text)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        headings = next(reader)
    except StopIteration:
        raise RegisterInvalid([RowProblem(0, "", f"{name} is empty")]) from None
    problems: list[RowProblem] = []
    columns: list[tuple[int, str, str]] = []  # (index, heading as written, attribute)
    seen: dict[str, str] = {}
    for index, heading in enumerate(headings):
        heading = heading.strip()
        attribute = column_for(heading) if heading else None
        if attribute is None:
            if heading:
                problems.append(RowProblem(0, heading, "this heading is not understood; "
                                           "see `kho holdings template` for the columns"))
            continue
        if attribute in seen:
            problems.append(RowProblem(0, heading, f"the same column as {seen[attribute]!r}"))
            continue
        seen[attribute] = heading
        columns.append((index, heading, attribute))
    for attribute in REQUIRED:
        if attribute not in seen:
            english, vietnamese = TEMPLATE_HEADINGS[attribute]
            problems.append(RowProblem(0, english, f"the file needs a {english!r} "
                                       f"({vietnamese!r}) column"))
    if problems:
        raise RegisterInvalid(problems)
    records: list[ItemRecord] = []
    first_row: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):  # row 1 holds the headings
        if not any(c.strip() for c in cells):
            continue  # blank lines (Excel leaves them at the end)
        if len(cells) > len(headings) and any(c.strip() for c in cells[len(headings):]):
            problems.append(RowProblem(number, "", f"{len(cells)} cells but {len(headings)} "
                                       "headings (a comma inside a value needs quotes)"))
            continue
        record = ItemRecord(number)
        for index, heading, attribute in columns:
            raw = (cells[index] if index < len(cells) else "").strip()
            if not raw.isascii():
                raw = unicodedata.normalize("NFC", raw)
            try:
                _set(record, attribute, raw)
            except ValueError as exc:
                problems.append(RowProblem(number, heading, str(exc)))
        shelfmark = record.values.get("shelfmark", "")
        if shelfmark:
            key = record.key = shelfmark_key(shelfmark)
            if key in first_row:
                problems.append(RowProblem(number, seen["shelfmark"],
                                           f"shelfmark {shelfmark!r} is also on row "
                                           f"{first_row[key]}"))
            first_row.setdefault(key, number)
        records.append(record)
    if problems:
        raise RegisterInvalid(problems)
    return records


def _set(record: ItemRecord, attribute: str, raw: str) -> None:
    """Put one cell's value on the record; ValueError with the reason if it is wrong."""
    if attribute in REQUIRED and not raw:
        raise ValueError("must not be empty")
    if attribute == "collection":
        record.collection = raw or None
    elif attribute == "status":
        if raw:
            status = parse_status(raw)
            if status not in STAFF_STATUSES:
                raise ValueError(f"{raw!r} follows from Kho's own records (an AIP linked by "
                                 "shelfmark); it cannot be set by hand")
            record.status = status
    elif attribute == "rare":
        record.values["rare"] = parse_yes_no(raw)
    elif attribute == "pages":
        record.values["pages"] = parse_pages(raw)
    elif attribute == "priority":
        record.values["priority"] = parse_priority(raw)
    elif attribute == "date":
        if raw:
            problem = date_problem(raw)
            if problem is not None:
                raise ValueError(problem)
        record.values["date"] = raw
    elif attribute in ("parallel_titles", "languages", "scripts"):
        record.values[attribute] = [p.strip() for p in raw.split(LIST_SEPARATOR) if p.strip()]
    else:
        if attribute == "shelfmark" and len(raw) > 200:
            raise ValueError("longer than 200 characters")
        record.values[attribute] = raw


@lru_cache(maxsize=4096)  # registers repeat their years
def date_problem(raw: str) -> str | None:
    try:
        check_date(raw)
    except ValueError as exc:
        return (f"{raw!r} is not an EDTF date or range (1844, 1844/1909, 18XX, 1890~)"
                f"{': ' + str(exc) if str(exc) else ''}")
    return None


def parse_pages(raw: str) -> int | None:
    if not raw:
        return None
    digits = raw.replace(" ", "").replace(".", "").replace(",", "") if re.fullmatch(
        r"\d{1,3}([ .,]\d{3})+", raw) else raw
    if not digits.isdigit():
        raise ValueError(f"{raw!r} is not a whole number of pages")
    pages = int(digits)
    if pages > MAX_PAGES:
        raise ValueError(f"{pages} pages is more than any one item has")
    return pages


def _dialect(text: str):
    """Comma, semicolon (Excel in many locales) or tab, judged from the heading line."""
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)

    class Register(csv.excel):
        pass
    Register.delimiter = delimiter if first.count(delimiter) else ","
    return Register


def template_csv() -> str:
    """The register template: one heading per column, English and Vietnamese variants."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([TEMPLATE_HEADINGS[a][1] for a in COLUMNS])
    writer.writerow(["HN.0001", "Đại Nam thực lục", "大南寔錄", "Quốc sử quán triều Nguyễn",
                     "1844/1909", "sách", "vi | lzh", "Hán", "có", "giấy giòn, mọt", "520",
                     "cao", "", "Hán Nôm", "đã chọn"])
    return out.getvalue()
