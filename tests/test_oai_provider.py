"""Kho's OAI-PMH provider, harvested over HTTP from a live `kho serve` by two PyPI clients
(oaipmh, the maintained pyoai, and oaipmh-scythe), every answer checked against the
OAI-PMH 2.0 and oai_dc XML Schemas kept in the package."""
from __future__ import annotations

import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import pytest

from repository.access.oai import (ListQuery, encode_token, token_key, validate_response)
from repository.ingest.amend import withdraw_aip
from tests.fixtures.aips import make_page_bag
from tests.fixtures.kho_server import kho_serve

OAI = "{http://www.openarchives.org/OAI/2.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
REPO_ID = "kho.thuvien-tinh.vn"


def fetch(url: str, post: dict | list | None = None, **params) -> bytes:
    """One raw OAI-PMH answer (GET with ``params``, or POST of ``post``), schema-checked."""
    if post is not None:
        request = urllib.request.Request(f"{url}/oai", data=urllib.parse.urlencode(post).encode(),
                                         headers={"Content-Type":
                                                  "application/x-www-form-urlencoded"})
    else:
        request = f"{url}/oai?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/xml")
        body = response.read()
    problems = validate_response(body)
    assert not problems, f"{params or post}: the answer breaks the schema: {problems}\n{body[:2000]}"
    return body


def error_code(body: bytes) -> str | None:
    error = ET.fromstring(body).find(f"{OAI}error")
    return None if error is None else error.get("code")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def ingest_titled(ingest_bag, tmp_path, n: int, collection: str, **options):
    bag = make_page_bag(tmp_path / f"bag-{n}", pages=1, title=f"Địa bạ làng {n} – Hà Nội",
                        external_id=f"DB-{n:04d}")
    return ingest_bag(bag, collection=collection, **options)


def test_schema_check_rejects_a_broken_answer():
    """The schema check is real: a wrong error code and a bad datestamp are refused."""
    bad = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-25T10:00:00Z'
           b'</responseDate><request>http://x/oai</request><error code="noSuchThing">x</error>'
           b'</OAI-PMH>')
    assert validate_response(bad)
    header = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-11-25T10:00:00Z'
              b'</responseDate><request>http://x/oai</request><ListIdentifiers><header>'
              b'<identifier>oai:a.b:1</identifier><datestamp>2026-11-25 10:00</datestamp></header>'
              b'</ListIdentifiers></OAI-PMH>')
    assert validate_response(header)


def test_two_harvesters_page_through_every_record_while_bags_are_ingested(ingest_bag, tmp_path):
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader
    from oaipmh_scythe import Scythe

    held = [ingest_titled(ingest_bag, tmp_path, n, "Địa bạ" if n % 2 else "Hán-Nôm")
            for n in range(5)]
    expected = {f"oai:{REPO_ID}:{r.identifier}" for r in held}
    with kho_serve(ingest_bag.settings, KHO_OAI_PAGE_SIZE="2",
                   KHO_OAI_REPOSITORY_ID=REPO_ID, KHO_OAI_ADMIN_EMAIL="kho@thuvien.example.vn",
                   KHO_INSTITUTION="Thư viện tỉnh Nam Định") as url:
        registry = MetadataRegistry()
        registry.registerReader("oai_dc", oai_dc_reader)
        client = Client(f"{url}/oai", registry)
        identify = client.identify()
        assert identify.repositoryName() == "Kho – Thư viện tỉnh Nam Định"
        assert identify.deletedRecord() == "persistent"
        assert identify.granularity() == "YYYY-MM-DDThh:mm:ssZ"
        assert identify.adminEmails() == ["kho@thuvien.example.vn"]
        assert identify.baseURL() == f"{url}/oai"
        raw_identify = ET.fromstring(fetch(url, verb="Identify"))
        assert raw_identify.findtext(".//{http://www.openarchives.org/OAI/2.0/oai-identifier}"
                                     "repositoryIdentifier") == REPO_ID

        sets = {spec: name for spec, name, _ in client.listSets()}
        assert sets == {"dia-ba": "Địa bạ", "han-nom": "Hán-Nôm"}

        # pyoai pages with POST; a bag ingested after the first page does not disturb it.
        # `from` is inclusive at whole seconds, and datestamps are truncated to the second:
        # start the harvest in a second later than every held bag's stamp, so the incremental
        # harvest below is owed only the late bag.
        time.sleep(1.02 - time.time() % 1)
        started = now_utc()
        harvested, titles = [], set()
        for number, (header, metadata, _) in enumerate(client.listRecords(metadataPrefix="oai_dc")):
            harvested.append(header.identifier())
            titles.update(metadata["title"])
            if number == 0:
                late = ingest_titled(ingest_bag, tmp_path, 9, "Hán-Nôm")
        # Every record once, none twice. The bag ingested while paging may be in the list or
        # not: stamped in the same second as the list's fixed end, it falls inside it.
        assert len(harvested) == len(set(harvested))
        assert set(harvested) - {f"oai:{REPO_ID}:{late.identifier}"} == expected
        assert "Địa bạ làng 3 – Hà Nội" in titles

        # scythe pages with GET; it sees the late bag too, and a selective harvest works.
        with Scythe(f"{url}/oai") as scythe:
            everything = [r.header.identifier for r in scythe.list_records()]
            assert sorted(everything) == sorted(expected | {f"oai:{REPO_ID}:{late.identifier}"})
            only_dia_ba = [h.identifier for h in scythe.list_identifiers(set_="dia-ba")]
            assert sorted(only_dia_ba) == sorted(f"oai:{REPO_ID}:{r.identifier}"
                                                 for r in held[1::2])
            # Incremental: from the start of the last harvest, only what came since.
            since = [r.header.identifier for r in scythe.list_records(from_=stamp(started))]
            assert since == [f"oai:{REPO_ID}:{late.identifier}"]
            record = scythe.get_record(f"oai:{REPO_ID}:{held[0].identifier}")
            assert "Địa bạ làng 0 – Hà Nội" in record.metadata["title"]

        # The raw pages, each valid, with xml:lang kept and the keyset token attributes.
        body = fetch(url, verb="ListRecords", metadataPrefix="oai_dc")
        root = ET.fromstring(body)
        token = root.find(f".//{OAI}resumptionToken")
        assert token.get("cursor") == "0" and token.get("completeListSize") == "6"
        assert token.get("expirationDate").endswith("Z")
        title = root.find(f".//{DC}title")
        assert title.get(XML_LANG) == "vi" and title.text.startswith("Địa bạ làng")
        seen = [h.text for h in root.iter(f"{OAI}identifier")]
        while token is not None and token.text:
            root = ET.fromstring(fetch(url, post={"verb": "ListRecords",
                                                  "resumptionToken": token.text}))
            seen += [h.text for h in root.iter(f"{OAI}identifier")]
            token = root.find(f".//{OAI}resumptionToken")
        assert token is not None and token.text is None and token.get("cursor") == "4"
        assert len(seen) == len(set(seen)) == 6


def test_withdrawal_is_a_deleted_record_and_an_embargo_end_reaches_an_incremental_harvest(
        ingest_bag, tmp_path):
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader
    from oaipmh_scythe import Scythe

    tomorrow = date.today() + timedelta(days=1)
    public = ingest_titled(ingest_bag, tmp_path, 1, "Địa bạ")
    restricted = ingest_titled(ingest_bag, tmp_path, 2, "Địa bạ", access="restricted")
    embargoed = ingest_titled(ingest_bag, tmp_path, 3, "Địa bạ",
                              access=f"embargoed:{tomorrow.isoformat()}")
    oai_id = lambda r: f"oai:{REPO_ID}:{r.identifier}"  # noqa: E731
    settings = dict(KHO_OAI_REPOSITORY_ID=REPO_ID, KHO_OAI_PAGE_SIZE="2")
    registry = MetadataRegistry()
    registry.registerReader("oai_dc", oai_dc_reader)

    with kho_serve(ingest_bag.settings, **settings) as url:
        first_start = now_utc()
        with Scythe(f"{url}/oai") as scythe:
            found = {r.header.identifier for r in scythe.list_records()}
        assert found == {oai_id(public), oai_id(restricted)}  # descriptions, not the embargo
        assert error_code(fetch(url, verb="GetRecord", identifier=oai_id(embargoed),
                                metadataPrefix="oai_dc")) == "idDoesNotExist"

        withdraw_aip(ingest_bag.settings, ingest_bag.catalog, public.identifier,
                     agent="test", reason="Trùng lặp")
        client = Client(f"{url}/oai", registry)
        changed = list(client.listRecords(metadataPrefix="oai_dc", from_=first_start.replace(
            tzinfo=None)))
        assert [(h.identifier(), h.isDeleted(), m) for h, m, _ in changed] == \
            [(oai_id(public), True, None)]
        header, metadata, _ = client.getRecord(identifier=oai_id(public), metadataPrefix="oai_dc")
        assert header.isDeleted() and metadata is None
        assert error_code(fetch(url, verb="ListMetadataFormats", identifier=oai_id(public))) \
            == "noMetadataFormats"
        time.sleep(1.1)  # datestamps are whole seconds and `from` is inclusive
        second_start = now_utc()

    # Two days later nothing was written, but the embargo has ended: the next incremental
    # harvest (from the start of the last one) brings the record, stamped with that moment.
    with kho_serve(ingest_bag.settings, faketime="+2d", **settings) as url:
        with Scythe(f"{url}/oai") as scythe:
            since = list(scythe.list_records(from_=stamp(second_start)))
        assert [r.header.identifier for r in since] == [oai_id(embargoed)]
        assert since[0].header.datestamp == f"{tomorrow.isoformat()}T00:00:00Z"
        assert "Địa bạ làng 3 – Hà Nội" in since[0].metadata["title"]
        assert error_code(fetch(url, verb="GetRecord", identifier=oai_id(embargoed),
                                metadataPrefix="oai_dc")) is None


def test_every_protocol_error_over_get_and_post(ingest_bag, tmp_path):
    from oaipmh import error as oai_errors
    from oaipmh.client import Client
    from oaipmh.metadata import MetadataRegistry, oai_dc_reader

    with kho_serve(ingest_bag.settings, KHO_OAI_REPOSITORY_ID=REPO_ID,
                   KHO_OAI_PAGE_SIZE="1") as url:
        # An empty repository has no sets yet.
        assert error_code(fetch(url, verb="ListSets")) == "noSetHierarchy"
        assert error_code(fetch(url, verb="ListRecords", metadataPrefix="oai_dc",
                                set="dia-ba")) == "noSetHierarchy"
        a = ingest_titled(ingest_bag, tmp_path, 1, "Địa bạ")
        b = ingest_titled(ingest_bag, tmp_path, 2, "Địa bạ")
        withdraw_aip(ingest_bag.settings, ingest_bag.catalog, b.identifier, agent="t",
                     reason="hỏng")
        today, yesterday = date.today(), date.today() - timedelta(days=1)
        token = ET.fromstring(fetch(url, verb="ListIdentifiers", metadataPrefix="oai_dc")) \
            .find(f".//{OAI}resumptionToken").text
        expired = encode_token(
            ListQuery("ListRecords", "oai_dc", None, None, now_utc() + timedelta(hours=1)),
            token_key(ingest_bag.settings.replace()), now_utc() - timedelta(seconds=5))
        cases = [
            ([], "badVerb"),
            ([("verb", "Harvest")], "badVerb"),
            ([("verb", "Identify"), ("verb", "Identify")], "badVerb"),
            ([("verb", "Identify"), ("color", "đỏ")], "badArgument"),
            ([("verb", "ListRecords")], "badArgument"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
              ("metadataPrefix", "oai_dc")], "badArgument"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
              ("from", "2026-01-01"), ("until", "2026-12-31T00:00:00Z")], "badArgument"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-13-45")],
             "badArgument"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2026-02-01"),
              ("until", "2026-01-01")], "badArgument"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
              ("resumptionToken", token)], "badArgument"),
            ([("verb", "GetRecord"), ("identifier", f"oai:{REPO_ID}:{a.identifier}")],
             "badArgument"),
            ([("verb", "ListIdentifiers"), ("resumptionToken", token + "x")],
             "badResumptionToken"),
            ([("verb", "ListRecords"), ("resumptionToken", token)], "badResumptionToken"),
            ([("verb", "ListRecords"), ("resumptionToken", expired)], "badResumptionToken"),
            ([("verb", "ListSets"), ("resumptionToken", "abc")], "badResumptionToken"),
            ([("verb", "ListRecords"), ("metadataPrefix", "marc21")], "cannotDisseminateFormat"),
            ([("verb", "GetRecord"), ("identifier", f"oai:{REPO_ID}:{a.identifier}"),
              ("metadataPrefix", "mods")], "cannotDisseminateFormat"),
            ([("verb", "GetRecord"), ("identifier", "oai:other.vn:1"),
              ("metadataPrefix", "oai_dc")], "idDoesNotExist"),
            ([("verb", "ListMetadataFormats"), ("identifier", f"oai:{REPO_ID}:nope")],
             "idDoesNotExist"),
            ([("verb", "ListMetadataFormats"), ("identifier", f"oai:{REPO_ID}:{b.identifier}")],
             "noMetadataFormats"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
              ("until", yesterday.isoformat())], "noRecordsMatch"),
            ([("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "bao-chi")],
             "noRecordsMatch"),
            # A day-granularity until covers the whole day.
            ([("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
              ("from", today.isoformat()), ("until", today.isoformat())], None),
        ]
        for arguments, expected in cases:
            query = urllib.parse.urlencode(arguments)
            get = fetch(url, **{}) if not arguments else None
            if arguments:
                with urllib.request.urlopen(f"{url}/oai?{query}", timeout=30) as response:
                    get = response.read()
                assert not validate_response(get), (arguments, validate_response(get))
            post = fetch(url, post=arguments)
            assert error_code(get) == expected, (arguments, get)
            assert error_code(post) == expected, (arguments, post)
            request = ET.fromstring(get).find(f"{OAI}request")
            if expected in ("badVerb", "badArgument"):
                assert request.attrib == {}, arguments  # §3.2: the base URL alone

        # The clients raise the protocol's errors as their own exceptions.
        registry = MetadataRegistry()
        registry.registerReader("oai_dc", oai_dc_reader)
        client = Client(f"{url}/oai", registry)
        with pytest.raises(oai_errors.IdDoesNotExistError):
            client.getRecord(identifier=f"oai:{REPO_ID}:nope", metadataPrefix="oai_dc")
        with pytest.raises(oai_errors.NoRecordsMatchError):
            list(client.listIdentifiers(metadataPrefix="oai_dc", set="bao-chi"))
        from oaipmh_scythe import Scythe
        from oaipmh_scythe.exceptions import CannotDisseminateFormat
        with Scythe(f"{url}/oai") as scythe, pytest.raises(CannotDisseminateFormat):
            list(scythe.list_records(metadata_prefix="marc21"))


def test_list_sets_list_metadata_formats_and_a_day_until_answer_valid_xml(ingest_bag, tmp_path):
    """Successful ListSets and ListMetadataFormats validate too; a day-granularity `until`
    takes in records stamped at any moment of that day (OAI-PMH §3.3.1)."""
    from repository.web import create_app

    a = ingest_titled(ingest_bag, tmp_path, 1, "Địa bạ")
    b = ingest_titled(ingest_bag, tmp_path, 2, "Ảnh tư liệu 1945")
    app = create_app(ingest_bag.settings.replace(oai_repository_identifier=REPO_ID))
    client = app.test_client()

    def answer(**params) -> ET.Element:
        body = client.get("/oai", query_string=params).get_data()
        problems = validate_response(body)
        assert not problems, f"{params}: the answer breaks the schema: {problems}\n{body[:2000]}"
        return ET.fromstring(body)

    def found(**params) -> set[str] | str:
        root = answer(verb="ListIdentifiers", metadataPrefix="oai_dc", **params)
        error = root.find(f"{OAI}error")
        return error.get("code") if error is not None else \
            {h.findtext(f"{OAI}identifier") for h in root.iter(f"{OAI}header")}

    try:
        sets = answer(verb="ListSets")
        assert sets.find(f"{OAI}error") is None
        assert {(s.findtext(f"{OAI}setSpec"), s.findtext(f"{OAI}setName"))
                for s in sets.iter(f"{OAI}set")} >= {("dia-ba", "Địa bạ"),
                                                     ("anh-tu-lieu-1945", "Ảnh tư liệu 1945")}
        for params in ({}, {"identifier": f"oai:{REPO_ID}:{a.identifier}"}):
            formats = answer(verb="ListMetadataFormats", **params)
            assert formats.find(f"{OAI}error") is None
            prefixes = [f.findtext(f"{OAI}metadataPrefix")
                        for f in formats.iter(f"{OAI}metadataFormat")]
            assert "oai_dc" in prefixes, params

        both = {f"oai:{REPO_ID}:{a.identifier}", f"oai:{REPO_ID}:{b.identifier}"}
        today = datetime.now(timezone.utc).date()
        assert found(until=today.isoformat()) == both          # to the end of today
        assert found(**{"from": today.isoformat(), "until": today.isoformat()}) == both
        assert found(until=f"{today.isoformat()}T00:00:00Z") == "noRecordsMatch"  # an instant
        assert found(until=(today - timedelta(days=1)).isoformat()) == "noRecordsMatch"
    finally:
        app.extensions["kho"].catalog.dispose()
