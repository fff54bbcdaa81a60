"""The holdings register's imports: CSV with English or Vietnamese headings (UTF-8, NFD,
Windows-1258), refusal of TCVN3 and VNI files, MARC 21 in ISO 2709 and MARCXML, all or
nothing, every bad row reported, re-imports updating by shelfmark."""
from __future__ import annotations

import json
import subprocess
import unicodedata

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from repository.cli import kho
from repository.holdings import HoldingItem, HoldingStatusChange

LIBRARY = "Thư viện tỉnh Nam Định"
REGISTER_VI = (
    "Ký hiệu xếp giá,Nhan đề,Nhan đề song song,Tác giả,Năm,Quý hiếm,Số trang,Sưu tập,Ưu tiên,Trạng thái\n"
    "HN.0001,Đại Nam thực lục,大南寔錄,Quốc sử quán triều Nguyễn,1844/1909,có,520,Hán Nôm,cao,đã chọn\n"
    "HN.0002,Truyện Kiều,傳翹,Nguyễn Du,18XX,có,180,Hán Nôm,trung bình,\n"
    "B.0003,Nam Phong tạp chí,,Phạm Quỳnh,1917/1934,không,64,Báo cũ,thấp,đang số hoá\n")


def cli(env: dict, *args: str):
    return CliRunner().invoke(kho, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def env(kho_settings) -> dict:
    return {"KHO_DATA_DIR": str(kho_settings.data_dir), "KHO_DATABASE_URL": kho_settings.catalog_url,
            "KHO_STORAGE_CONFIG": str(kho_settings.storage_config_dir)}


def items(env: dict) -> dict[str, HoldingItem]:
    from repository.catalog import open_catalog
    catalog = open_catalog(env["KHO_DATABASE_URL"])
    catalog.upgrade()
    try:
        with catalog.session() as session:
            rows = session.scalars(select(HoldingItem)).all()
            for row in rows:
                session.expunge(row)
            return {row.shelfmark: row for row in rows}
    finally:
        catalog.dispose()


def history_count(env: dict) -> int:
    from repository.catalog import open_catalog
    catalog = open_catalog(env["KHO_DATABASE_URL"])
    try:
        with catalog.session() as session:
            return session.scalar(select(func.count()).select_from(HoldingStatusChange))
    finally:
        catalog.dispose()


def test_vietnamese_csv_imports_then_reimport_updates_by_shelfmark_without_duplicates(env, tmp_path):
    register = tmp_path / "so-dang-ky.csv"
    register.write_text(REGISTER_VI, encoding="utf-8")
    done = cli(env, "holdings", "import", str(register), "--library", LIBRARY, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["created"] == 3
    found = items(env)
    kieu = found["HN.0002"]
    assert kieu.title == "Truyện Kiều" and kieu.parallel_titles == ["傳翹"]
    assert kieu.rare is True and kieu.pages == 180 and kieu.priority == 2 and kieu.date == "18XX"
    assert found["HN.0001"].status == "selected" and found["B.0003"].status == "being_scanned"
    assert found["B.0003"].rare is False
    assert history_count(env) == 2
    # The library corrects a page count and moves an item on; the shelfmark is written in
    # another case and spacing, and the file is NFD (as macOS writes it).
    again = ("ký hiệu xếp giá,nhan đề,số trang,trạng thái\n"
             "hn.0002 ,Truyện Kiều,182,đã số hoá\n")
    register.write_bytes(unicodedata.normalize("NFD", again).encode("utf-8"))
    done = cli(env, "holdings", "import", str(register), "--library", LIBRARY, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["updated"] == 1 and json.loads(done.output)["created"] == 0
    found = items(env)
    assert len(found) == 3
    assert found["HN.0002"].pages == 182 and found["HN.0002"].status == "scanned"
    assert found["HN.0002"].creator == "Nguyễn Du"  # a column the file did not have is kept
    assert history_count(env) == 3


def test_english_headings_semicolons_and_a_dry_run_that_writes_nothing(env, tmp_path):
    register = tmp_path / "register.csv"
    register.write_text("shelfmark;title;rare;pages;collection\nM.1;Bản đồ tỉnh Nam Định;yes;2;Maps\n",
                        encoding="utf-8-sig")
    done = cli(env, "holdings", "import", str(register), "--library", LIBRARY, "--dry-run")
    assert done.exit_code == 0 and "would create 1" in done.output
    assert items(env) == {}
    assert cli(env, "holdings", "import", str(register), "--library", LIBRARY).exit_code == 0
    assert items(env)["M.1"].title == "Bản đồ tỉnh Nam Định"


def test_every_bad_row_is_reported_with_row_column_and_reason_and_nothing_is_imported(env, tmp_path):
    register = tmp_path / "bad.csv"
    register.write_text(
        "ký hiệu xếp giá,nhan đề,quý hiếm,số trang,năm,trạng thái\n"
        "HN.1,Đại Việt sử ký toàn thư,có,300,1697,\n"       # row 2: fine
        "HN.2,,có,12,1800,\n"                               # row 3: no title
        "HN.3,Lĩnh Nam chích quái,có lẽ,mười,1492-1493,\n"  # row 4: rare, pages, date
        "HN.1,Trùng ký hiệu,không,5,,đã lưu trữ\n",         # row 5: duplicate, status
        encoding="utf-8")
    done = CliRunner().invoke(kho, ["holdings", "import", str(register), "--library", LIBRARY],
                              env=env)
    assert done.exit_code == 1
    errors = done.output
    assert "row 3, nhan đề: must not be empty" in errors
    assert "row 4, quý hiếm: 'có lẽ' is not yes or no" in errors
    assert "row 4, số trang: 'mười' is not a whole number of pages" in errors
    assert "row 4, năm:" in errors and "1492/1493" in errors
    assert "row 5, ký hiệu xếp giá: shelfmark 'HN.1' is also on row 2" in errors
    assert "row 5, trạng thái:" in errors and "cannot be set by hand" in errors
    assert items(env) == {}


def test_windows_1258_is_converted_and_tcvn3_and_vni_are_refused_by_name(env, tmp_path):
    text = "ký hiệu xếp giá,nhan đề,quý hiếm,số trang\nHN.9,Hà Nội xưa,có,40\nHN.10,Đại Nam nhất thống chí,có,200\n"
    # glibc's iconv is the converter: CP1258 writes tone marks as combining characters, and
    # TCVN5712-1 places lower-case letters where TCVN3 (ABC) fonts do ("Hµ Néi").
    cp1258 = subprocess.run(["iconv", "-f", "UTF-8", "-t", "CP1258"], input=text.encode(),
                            capture_output=True, check=True).stdout
    (tmp_path / "1258.csv").write_bytes(cp1258)
    done = cli(env, "holdings", "import", str(tmp_path / "1258.csv"), "--library", LIBRARY)
    assert done.exit_code == 0 and "Windows-1258" in done.output
    assert items(env)["HN.9"].title == "Hà Nội xưa"
    assert items(env)["HN.10"].title == unicodedata.normalize("NFC", "Đại Nam nhất thống chí")

    tcvn3 = subprocess.run(["iconv", "-f", "UTF-8", "-t", "TCVN5712-1"], input=text.encode(),
                           capture_output=True, check=True).stdout
    assert b"H\xb5 N\xe9i" in tcvn3
    (tmp_path / "abc.csv").write_bytes(tcvn3)
    done = CliRunner().invoke(kho, ["holdings", "import", str(tmp_path / "abc.csv"), "--library",
                                    LIBRARY], env=env)
    assert done.exit_code == 1
    assert "TCVN3 (ABC)" in done.output and "iconv -f TCVN5712-1" in done.output

    # VNI Windows: the base letter, then one byte for the marks ("Haø Noäi").
    vni = "kyù hieäu xeáp giaù,nhan ñeà,quyù hieám\nHN.11,Haø Noäi xöa,coù\nHN.12,Ñaïi Vieät söû kyù,coù\n"
    (tmp_path / "vni.csv").write_bytes(vni.encode("cp1252"))
    done = CliRunner().invoke(kho, ["holdings", "import", str(tmp_path / "vni.csv"), "--library",
                                    LIBRARY], env=env)
    assert done.exit_code == 1 and "VNI Windows" in done.output and "UniKey" in done.output
    # The same VNI file opened in Excel as Windows-1252 and saved as UTF-8: still garbage.
    (tmp_path / "vni-utf8.csv").write_text(vni, encoding="utf-8")
    done = CliRunner().invoke(kho, ["holdings", "import", str(tmp_path / "vni-utf8.csv"),
                                    "--library", LIBRARY], env=env)
    assert done.exit_code == 1 and "VNI Windows that was read as Windows-1252" in done.output
    # French in UTF-8 is not mistaken for it.
    (tmp_path / "fr.csv").write_text("shelfmark,title\nF.1,Là-bas : récit où l'été déçoit à Noël\n",
                                     encoding="utf-8")
    assert cli(env, "holdings", "import", str(tmp_path / "fr.csv"), "--library", LIBRARY).exit_code == 0
    assert set(items(env)) == {"HN.9", "HN.10", "F.1"}


def marc_records():
    from pymarc import Field, Indicators, Record, Subfield
    first = Record(force_utf8=True)
    first.leader = first.leader[:6] + "tm" + first.leader[8:]  # manuscript, monograph
    first.add_field(
        Field(tag="008", data="261125m18441909vm            000 0 vie d"),
        Field(tag="041", indicators=Indicators("0", " "), subfields=[Subfield("a", "vie"), Subfield("a", "lzh")]),
        Field(tag="100", indicators=Indicators("0", " "), subfields=[Subfield("a", "Quốc sử quán triều Nguyễn.")]),
        Field(tag="245", indicators=Indicators("1", "0"), subfields=[
            Subfield("6", "880-01"), Subfield("a", "Đại Nam thực lục :"), Subfield("b", "chính biên /")]),
        Field(tag="880", indicators=Indicators("1", "0"), subfields=[
            Subfield("6", "245-01/$1"), Subfield("a", "大南寔錄")]),
        Field(tag="300", subfields=[Subfield("a", "260 tờ ;"), Subfield("c", "27 cm")]),
        Field(tag="546", subfields=[Subfield("b", "Chữ Hán.")]),
        Field(tag="583", subfields=[Subfield("a", "condition reviewed"), Subfield("l", "giấy giòn")]),
        Field(tag="852", subfields=[Subfield("b", "Hán Nôm"), Subfield("h", "HN"), Subfield("i", "0101")]),
    )
    second = Record(force_utf8=True)
    second.add_field(
        Field(tag="008", data="261125s1995    vm            000 0 vie d"),
        Field(tag="245", indicators=Indicators("1", "0"), subfields=[Subfield("a", "Lịch sử Nam Định.")]),
        Field(tag="300", subfields=[Subfield("a", "xii, 312 tr. ;")]),
        Field(tag="952", subfields=[Subfield("8", "Địa chí"), Subfield("o", "ĐC 959.7 L302")]),
    )
    return [first, second]


@pytest.mark.parametrize("form", ["iso2709", "marcxml"])
def test_marc_records_import_with_the_documented_mapping(env, tmp_path, form):
    from pymarc import record_to_xml
    records = marc_records()
    if form == "iso2709":
        path = tmp_path / "export.mrc"
        path.write_bytes(b"".join(r.as_marc() for r in records))
    else:
        path = tmp_path / "export.xml"
        body = b"".join(record_to_xml(r, namespace=True) for r in records)
        path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?><collection '
                         b'xmlns="http://www.loc.gov/MARC21/slim">' + body + b"</collection>")
    done = cli(env, "holdings", "import", str(path), "--library", LIBRARY)
    assert done.exit_code == 0, done.output
    found = items(env)
    thuc_luc = found["HN 0101"]
    assert thuc_luc.title == "Đại Nam thực lục chính biên"
    assert thuc_luc.parallel_titles == ["大南寔錄"]
    assert thuc_luc.creator == "Quốc sử quán triều Nguyễn"
    assert thuc_luc.date == "1844/1909" and thuc_luc.item_type == "manuscript"
    assert thuc_luc.languages == ["vie", "lzh"] and thuc_luc.scripts == ["Chữ Hán"]
    assert thuc_luc.pages == 520 and thuc_luc.rare is True and thuc_luc.condition == "giấy giòn"
    local = found["ĐC 959.7 L302"]
    assert local.title == "Lịch sử Nam Định" and local.date == "1995"
    assert local.pages == 324 and local.rare is False
    # Re-importing the same export changes nothing but updates the two items.
    again = cli(env, "holdings", "import", str(path), "--library", LIBRARY, "--json")
    assert json.loads(again.output)["updated"] == 2 and len(items(env)) == 2


def test_a_marc_record_without_shelfmark_is_reported_by_record_number(env, tmp_path):
    from pymarc import Field, Indicators, Record, Subfield
    records = marc_records()
    bare = Record(force_utf8=True)
    bare.add_field(Field(tag="245", indicators=Indicators("0", "0"), subfields=[Subfield("a", "Không ký hiệu")]))
    path = tmp_path / "export.mrc"
    path.write_bytes(b"".join(r.as_marc() for r in [*records, bare]))
    done = CliRunner().invoke(kho, ["holdings", "import", str(path), "--library", LIBRARY], env=env)
    assert done.exit_code == 1 and "row 3, 852 $h $i: no shelfmark" in done.output
    assert items(env) == {}
