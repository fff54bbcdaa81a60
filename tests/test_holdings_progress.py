"""Progress from Kho's own records: AIPs ingested with a register item's shelfmark make it
preserved (before or after the register is loaded), their access makes it published, staff
statuses carry who and when, and the report's figures match hand-counted ones."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.cli import kho
from tests.fixtures.aips import add_collections, page_image
from tests.fixtures.bags import make_bag

NAM_DINH, HA_NAM = "Thư viện tỉnh Nam Định", "Thư viện tỉnh Hà Nam"
REGISTER_NAM_DINH = (
    "ký hiệu xếp giá,nhan đề,quý hiếm,số trang,sưu tập,ưu tiên\n"
    "HN.0001,Đại Nam thực lục,có,520,Hán Nôm,cao\n"
    "HN.0002,Truyện Kiều,có,180,Hán Nôm,trung bình\n"
    "HN.0003,Lĩnh Nam chích quái,có,100,Hán Nôm,cao\n"
    "B.0004,Nam Phong tạp chí số 1,không,64,Báo cũ,thấp\n"
    "B.0005,Trung Bắc tân văn,có,40,Báo cũ,thấp\n")
# Another library uses the same shelfmark for its own book.
REGISTER_HA_NAM = "shelfmark,title,rare,pages,collection,priority\nHN.0001,Hà Nam địa chí,yes,300,Hán Nôm,high\n"


def holding_bag(root: Path, shelfmark: str, *, organization: str = "Thư viện tỉnh",
                field: str = "External-Identifier", extra: dict | None = None) -> Path:
    info = {"Source-Organization": organization, field: shelfmark, "Bagging-Date": "2026-11-25",
            "DC-Title": f"Bản số hoá {shelfmark}", **(extra or {})}
    return make_bag(root, {"data/trang 1.jpg": page_image(60, 80)}, bag_info=info)


def cli(env: dict, *args: str, code: int = 0):
    done = CliRunner().invoke(kho, list(args), env=env)
    assert done.exit_code == code, done.output
    return done


@pytest.fixture
def env(kho_settings) -> dict:
    return {"KHO_DATA_DIR": str(kho_settings.data_dir), "KHO_DATABASE_URL": kho_settings.catalog_url,
            "KHO_STORAGE_CONFIG": str(kho_settings.storage_config_dir)}


def load(env: dict, tmp_path: Path, library: str, text: str) -> None:
    path = tmp_path / f"{abs(hash(library))}.csv"
    path.write_text(text, encoding="utf-8")
    cli(env, "holdings", "import", str(path), "--library", library)


def report(env: dict, *args: str) -> dict:
    return json.loads(cli(env, "holdings", "report", "--format", "json", *args).output)


def scope(document: dict, library: str, collection: str | None = None) -> dict:
    entry = next(e for e in document["libraries"] if e["library"] == library)
    if collection is None:
        return entry
    return next(c for c in entry["collections"] if c["collection"] == collection)


def figures(entry: dict) -> tuple:
    return tuple(entry[k] for k in ("items", "rare_items", "preserved", "published", "progress"))


def test_aips_with_matching_shelfmarks_make_items_preserved_and_access_decides_published(
        env, ingest_bag, tmp_path):
    # Two AIPs ingested before the register exists: linked when it is loaded.
    first = ingest_bag(holding_bag(tmp_path / "b1", "HN.0001", organization=NAM_DINH))
    embargoed = ingest_bag(holding_bag(tmp_path / "b2", "hn.0002"), access="embargoed:2099-01-01")
    load(env, tmp_path, NAM_DINH, REGISTER_NAM_DINH)
    load(env, tmp_path, HA_NAM, REGISTER_HA_NAM)
    # One ingested afterwards: linked at once, restricted still counts as published.
    ingest_bag(holding_bag(tmp_path / "b4", "B.0004"), access="restricted")
    # An AIP with no register item changes nothing.
    ingest_bag(holding_bag(tmp_path / "b9", "KHONG.CO"))

    document = report(env)
    # Hand count: preserved HN.0001 (public), HN.0002 (embargoed), B.0004 (restricted);
    # Hà Nam's HN.0001 is not, because the bag's Source-Organization names Nam Định.
    assert figures(document) == (6, 5, 3, 2, 0.4)
    assert figures(scope(document, NAM_DINH)) == (5, 4, 3, 2, 0.5)
    assert figures(scope(document, NAM_DINH, "Hán Nôm")) == (3, 3, 2, 1, 0.6667)
    assert figures(scope(document, NAM_DINH, "Báo cũ")) == (2, 1, 1, 1, 0.0)
    assert figures(scope(document, HA_NAM)) == (1, 1, 0, 0, 0.0)
    assert scope(document, NAM_DINH)["rare_pages"] == 840
    assert scope(document, NAM_DINH)["rare_preserved_pages"] == 700
    assert document["left_by_priority"] == [{"priority": "high", "items": 2, "pages": 400},
                                            {"priority": "low", "items": 1, "pages": 40}]
    this_month = date.today().strftime("%Y-%m")
    assert document["per_month"] == [{"month": this_month, "preserved": 3, "rare_preserved": 2}]
    # Target 70% of 5 rare items = 4; 2 preserved, 2 this month, so the pace is 2 in
    # max(30, days this month) days and 2 more take as long again.
    days = max(30, date.today().day)
    assert document["projection"]["target_items"] == 4
    assert document["projection"]["remaining"] == 2
    assert document["projection"]["projected_date"] == (date.today() + timedelta(days=days)).isoformat()

    item = json.loads(cli(env, "holdings", "show", "HN.0001", "--library", NAM_DINH).output)
    assert item["status"] == "published" and item["aips"] == [first.identifier]
    assert json.loads(cli(env, "holdings", "show", "HN.0001", "--library", HA_NAM).output)["aips"] == []

    # The embargo is lifted: the item is published without anything else being told.
    from repository.ingest.amend import amend_aip
    amend_aip(ingest_bag.settings, ingest_bag.catalog, embargoed.identifier, agent="lan",
              access="public")
    assert figures(scope(report(env), NAM_DINH, "Hán Nôm")) == (3, 3, 2, 2, 0.6667)
    only = report(env, "--library", HA_NAM)
    assert figures(only) == (1, 1, 0, 0, 0.0) and [e["library"] for e in only["libraries"]] == [HA_NAM]


def test_staff_statuses_are_recorded_with_who_and_when_and_preserved_cannot_be_set(env, tmp_path):
    load(env, tmp_path, NAM_DINH, REGISTER_NAM_DINH)
    cli(env, "holdings", "status", "HN.0003", "B.0005", "--library", NAM_DINH, "--to", "đang số hoá",
        "--agent", "Nguyễn Thị Lan", "--note", "máy quét A3")
    cli(env, "holdings", "status", "HN.0003", "--library", NAM_DINH, "--to", "scanned",
        "--agent", "Trần Văn Minh")
    item = json.loads(cli(env, "holdings", "show", "HN.0003", "--library", NAM_DINH).output)
    assert item["status"] == "scanned"
    assert [(h["from"], h["to"], h["agent"], h["via"]) for h in item["history"]] == [
        ("not_started", "being_scanned", "Nguyễn Thị Lan", "cli"),
        ("being_scanned", "scanned", "Trần Văn Minh", "cli")]
    assert item["history"][0]["note"] == "máy quét A3" and item["history"][0]["at"]
    refused = cli(env, "holdings", "status", "HN.0003", "--library", NAM_DINH, "--to", "preserved",
                  code=2)
    assert "cannot be set by hand" in refused.output
    status = report(env)["status"]
    assert status["being_scanned"] == 1 and status["scanned"] == 1 and status["not_started"] == 3
    # The same report as text, CSV and an XLSX workbook.
    text = cli(env, "holdings", "report").output
    assert f"{NAM_DINH}: 5 items, 4 rare; 0 preserved, 0 published" in text
    assert "rare items left by priority: high 2, medium 1, low 1" in text
    csv_text = cli(env, "holdings", "report", "--format", "csv").output.lstrip("\ufeff")
    assert f"{NAM_DINH},Hán Nôm,3,3,0,0,0.0" in csv_text
    from openpyxl import load_workbook
    cli(env, "holdings", "report", "--format", "xlsx", "--output", str(tmp_path / "tien-do.xlsx"))
    sheet = load_workbook(tmp_path / "tien-do.xlsx")["Progress"]
    assert [c.value for c in sheet[3]][:4] == [NAM_DINH, None, 5, 4]


def test_a_configured_bag_info_field_links_at_ingest_and_kho_holdings_link_reads_older_aips(
        env, ingest_bag, tmp_path):
    load(env, tmp_path, NAM_DINH, REGISTER_NAM_DINH)
    # Ingested while the link field was External-Identifier: its Call-Number is not read.
    older = holding_bag(tmp_path / "b3", "DEP-2026-17", extra={"Call-Number": "HN.0003"})
    ingest_bag(older)
    assert report(env)["preserved"] == 0
    env = {**env, "KHO_HOLDINGS_LINK_FIELD": "Call-Number"}
    done = cli(env, "holdings", "link")
    assert "1 carry a shelfmark in Call-Number" in done.output
    assert report(env)["preserved"] == 1
    # With the setting in force, ingest links at once.
    from repository.ingest.pipeline import ingest_package
    add_collections(ingest_bag.catalog, "Báo chí")
    ingest_package(holding_bag(tmp_path / "b5", "DEP-2026-18", extra={"Call-Number": "B.0005"}),
                   settings=ingest_bag.settings.replace(holdings_link_field="Call-Number"),
                   catalog=ingest_bag.catalog, collection="Báo chí")
    document = report(env)
    assert document["preserved"] == 2 and document["rare_preserved"] == 2


def test_a_library_target_is_reported_and_on_track_is_judged_against_the_programme_deadline(
        env, ingest_bag, tmp_path):
    """Issue 13: a library's own target (kho holdings target) is in the report, and whether a
    scope is on track compares the date its pace projects with the programme's deadline.
    The clock is given (today, and the dates the AIPs were ingested), not read."""
    from sqlalchemy import update

    from repository.catalog import Aip
    from repository.holdings.export import report_document
    from repository.holdings.progress import build_report
    nam_dinh = "ký hiệu xếp giá,nhan đề,quý hiếm,số trang,ghi chú\n" + "".join(
        f"A.{n},Sắc phong làng Hoài Đức {n},có,10,\n" for n in range(1, 7))
    ha_nam = "shelfmark,title,rare,pages\n" + "".join(
        f"B.{n},Địa bạ xã Phú Chiêm {n},yes,20\n" for n in range(1, 11))
    load(env, tmp_path, NAM_DINH, nam_dinh)
    load(env, tmp_path, HA_NAM, ha_nam)
    done = cli(env, "holdings", "target", "--library", NAM_DINH, "--share", "0.5")
    assert f"target for {NAM_DINH}: 50%" in done.output
    refused = cli(env, "holdings", "target", "--library", NAM_DINH, "--share", "70", code=2)
    assert "between 0 and 1" in refused.output
    # The target (no --by: the programme's deadline) is what the report holds for the library.
    document = report(env)
    assert (document["target"], document["deadline"]) == (0.7, "2030-12-31")
    assert (scope(document, NAM_DINH)["target"], scope(document, NAM_DINH)["deadline"]) == \
        (0.5, "2030-12-31")
    assert scope(document, HA_NAM)["target"] == 0.7
    assert scope(document, NAM_DINH)["projection"]["target_items"] == 3  # 50% of 6 rare
    assert scope(document, HA_NAM)["projection"]["target_items"] == 7  # 70% of 10 rare

    # Nam Định preserved A.1 on 5 December 2026 and A.2 on 5 January 2027; Hà Nam only
    # B.1, on 10 February 2026.
    preserved = {"A.1": date(2026, 12, 5), "A.2": date(2027, 1, 5), "B.1": date(2026, 2, 10)}
    for shelfmark, day in preserved.items():
        result = ingest_bag(holding_bag(tmp_path / shelfmark, shelfmark))
        with ingest_bag.catalog.session() as session:
            session.execute(update(Aip).where(Aip.identifier == result.identifier)
                            .values(created_at=datetime(day.year, day.month, day.day, 9,
                                                        tzinfo=timezone.utc)))

    def on(today: date, deadline: str) -> dict:
        settings = ingest_bag.settings.replace(holdings_deadline=deadline)
        with ingest_bag.catalog.session() as session:
            return report_document(build_report(session, settings, today=today))

    today = date(2027, 1, 15)
    document = on(today, "2027-06-30")
    fast, slow = scope(document, NAM_DINH), scope(document, HA_NAM)
    # Nam Định: 2 rare items preserved since 1 December 2026, i.e. in 46 days; 1 more is
    # needed for 3, which takes 23 days at that pace: 7 February 2027, before the deadline.
    assert fast["rare_preserved"] == 2 and fast["deadline"] == "2027-06-30"
    assert fast["projection"] == {"target_items": 3, "remaining": 1, "pace_per_month": 1.32,
                                  "projected_date": "2027-02-07", "on_track": True,
                                  "reached": False}
    # Hà Nam: 1 in the 349 days since 1 February 2026 (the 12-month window); 6 more take
    # 2094 days: 9 October 2032, long after the deadline.
    assert slow["projection"] == {"target_items": 7, "remaining": 6, "pace_per_month": 0.09,
                                  "projected_date": "2032-10-09", "on_track": False,
                                  "reached": False}
    # The programme: 3 of 16 rare items in 349 days, 12 needed (70%), 9 more take 1047 days.
    assert document["projection"]["projected_date"] == "2029-11-27"
    assert document["projection"]["on_track"] is False
    # The same pace judged against a programme deadline before the date it projects: late.
    early = scope(on(today, "2027-02-01"), NAM_DINH)
    assert early["projection"]["projected_date"] == "2027-02-07"
    assert early["projection"]["on_track"] is False
    # A deadline given with the library's target wins over the programme's.
    cli(env, "holdings", "target", "--library", HA_NAM, "--share", "0.2", "--by", "2033-01-31")
    slow = scope(on(today, "2027-06-30"), HA_NAM)
    assert (slow["target"], slow["deadline"]) == (0.2, "2033-01-31")
    assert slow["projection"]["target_items"] == 2 and slow["projection"]["on_track"] is True


def test_the_notes_of_a_csv_row_are_kept_exactly_and_updated_on_reimport(env, tmp_path):
    """Issue 13: the register's `notes` (ghi chú) column, with commas, quotes and Vietnamese
    typed decomposed, is kept as NFC text; importing the file again updates it."""
    import unicodedata
    note = "Bản chép tay, gáy bị mọt; thiếu tờ 3 (\"bản B\")"
    typed = unicodedata.normalize("NFD", note).replace('"', '""')
    load(env, tmp_path, NAM_DINH, "ký hiệu xếp giá,nhan đề,quý hiếm,số trang,ghi chú\n"
                                  f'HN.0001,Đại Nam thực lục,có,520,"{typed}"\n'
                                  "HN.0002,Truyện Kiều,có,180,\n")

    def notes(shelfmark: str) -> str:
        return json.loads(cli(env, "holdings", "show", shelfmark, "--library", NAM_DINH)
                          .output)["notes"]
    assert notes("HN.0001") == note and notes("HN.0002") == ""
    load(env, tmp_path, NAM_DINH, "shelfmark,title,rare,pages,notes\n"
                                  "HN.0001,Đại Nam thực lục,yes,520,Đã tu bổ năm 2026\n")
    assert notes("HN.0001") == "Đã tu bổ năm 2026"
