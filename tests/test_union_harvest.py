"""The union catalogue's harvester against real providers on loopback: a second live Kho, a
provider built with the `oaipmh` library's server (day granularity, deletions, small pages)
and one that misbehaves (503 + Retry-After, a broken token, a malformed record)."""
from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from repository.catalog import open_catalog
from repository.cli import kho
from repository.config import load_settings
from repository.errors import UsageError
from repository.ingest.amend import withdraw_aip
from repository.ingest.pipeline import ingest_package
from repository.catalog import Reader
from repository.search import search_works
from repository.union import UnionHarvest, UnionRecord, add_source, harvest_all, harvest_source
from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, add_collections, make_page_bag
from tests.fixtures.kho_server import kho_environment, kho_serve
from tests.fixtures.servers import serving

HUE = "Thư viện tỉnh Thừa Thiên Huế"
NAM_DINH = "Thư viện tỉnh Nam Định"
ISBN = "978-604-1-00001-1"


@pytest.fixture
def harvester(kho_settings):
    """The Kho that harvests: its catalogue on SQLite and on PostgreSQL."""
    settings = kho_settings.replace(union_retries=1, union_timeout_s=10.0)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    yield settings, catalog
    catalog.dispose()


@pytest.fixture
def second_kho(tmp_path):
    """Another library's Kho (its own SQLite and storage) with two AIPs; yields (settings, ids)."""
    settings = load_settings({}, data_dir=tmp_path / "nam-dinh", storage_config_dir=tmp_path / "sc")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")  # Kho ingests only into collections made on purpose
    ids = [ingest_package(make_page_bag(tmp_path / f"nd-{n}", pages=1, title=title,
                                        external_id=f"ND-{n}"),
                          settings=settings, catalog=catalog, collection="Hán-Nôm").identifier
           for n, title in enumerate([TITLE_VI, "Địa bạ làng Hành Thiện"])]
    yield settings, catalog, ids
    catalog.dispose()


# --- a provider that is not Kho: the oaipmh library's server -------------------------------

class PyoaiLibrary:
    """An IOAI implementation over a dict; day granularity; forgets records it drops."""

    def __init__(self, base_url_ref: list[str]):
        from oaipmh import common
        self.common, self.base_url_ref = common, base_url_ref
        day = datetime(2026, 1, 10)
        self.items = {
            "oai:hue.example.vn:1": (day, False, {"title": [TITLE_VI],
                                                  "creator": ["Quốc sử quán triều Nguyễn"],
                                                  "date": ["1844"],
                                                  "identifier": ["https://hue.example.vn/s/1"]}),
            "oai:hue.example.vn:2": (day, False, {"title": ["Truyện Kiều"],
                                                  "creator": ["Nguyễn Du"],
                                                  "identifier": [f"ISBN {ISBN}"]}),
            "oai:hue.example.vn:3": (day, False, {"title": ["Ô châu cận lục"]}),
            "oai:hue.example.vn:4": (day, True, {}),
        }

    def identify(self):
        return self.common.Identify(
            repositoryName=HUE, baseURL=self.base_url_ref[0], protocolVersion="2.0",
            adminEmails=["oai@hue.example.vn"], earliestDatestamp=datetime(2026, 1, 1),
            deletedRecord="transient", granularity="YYYY-MM-DD", compression=["identity"])

    def listMetadataFormats(self, identifier=None):
        return [("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                 "http://www.openarchives.org/OAI/2.0/oai_dc/")]

    def listSets(self):
        return []

    def _select(self, from_, until):
        from oaipmh import error
        out = [(k, v) for k, v in sorted(self.items.items())
               if (from_ is None or v[0] >= from_) and (until is None or v[0] <= until)]
        if not out:
            raise error.NoRecordsMatchError("nothing")
        return out

    def _header(self, key, value):
        return self.common.Header(None, key, value[0], [], value[1])

    def listIdentifiers(self, metadataPrefix, set=None, from_=None, until=None):
        return [self._header(k, v) for k, v in self._select(from_, until)]

    def listRecords(self, metadataPrefix, set=None, from_=None, until=None):
        return [(self._header(k, v), None if v[1] else self.common.Metadata(None, v[2]), None)
                for k, v in self._select(from_, until)]

    def getRecord(self, metadataPrefix, identifier):
        value = self.items[identifier]
        return self._header(identifier, value), self.common.Metadata(None, value[2]), None


def pyoai_app(library: PyoaiLibrary):
    from oaipmh.metadata import MetadataRegistry
    from oaipmh.server import Server, oai_dc_writer
    registry = MetadataRegistry()
    registry.registerWriter("oai_dc", oai_dc_writer)
    server = Server(library, registry, resumption_batch_size=2)

    @Request.application
    def app(request):
        return Response(server.handleRequest(request.args.to_dict()), content_type="text/xml")
    return app


# --- a provider that misbehaves ------------------------------------------------------------

OAI_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/'
            'OAI/2.0/"><responseDate>2026-11-25T10:00:00Z</responseDate><request>x</request>')


def _record(n: int, title: str, extra: str = "") -> str:
    return (f"<record><header><identifier>oai:bad.example.vn:{n}</identifier><datestamp>"
            f"2026-11-20T10:00:00Z</datestamp></header><metadata><oai_dc:dc xmlns:oai_dc="
            f'"http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/'
            f'1.1/"><dc:title xml:lang="vi">{title}</dc:title>{extra}</oai_dc:dc></metadata>'
            "</record>")


def misbehaving_app(log: list[str]):
    state = {"identify": 0, "token": 0}

    @Request.application
    def app(request):
        verb, token = request.args.get("verb"), request.args.get("resumptionToken")
        log.append(f"{verb}:{token or ''}")
        if verb == "Identify":
            state["identify"] += 1
            if state["identify"] == 1:  # busy at first: come back in a second
                return Response("busy", status=503, headers={"Retry-After": "1"})
            return Response(OAI_HEAD + "<Identify><repositoryName>Bad</repositoryName><baseURL>x"
                            "</baseURL><protocolVersion>2.0</protocolVersion><adminEmail>a@b.vn"
                            "</adminEmail><earliestDatestamp>2026-01-01T00:00:00Z"
                            "</earliestDatestamp><deletedRecord>no</deletedRecord><granularity>"
                            "YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>",
                            content_type="text/xml")
        if token is None:
            return Response(OAI_HEAD + "<ListRecords>" + _record(1, "Sách một") +
                            _record(2, "Truyện Kiều", "<dc:identifier>ISBN 9786041000011"
                                                      "</dc:identifier>") +
                            "<resumptionToken>page-2</resumptionToken></ListRecords></OAI-PMH>",
                            content_type="text/xml")
        state["token"] += 1
        if state["token"] == 1:  # forgets its own token once
            return Response(OAI_HEAD + '<error code="badResumptionToken">expired</error>'
                            "</OAI-PMH>", content_type="text/xml")
        return Response(OAI_HEAD + "<ListRecords>" + _record(3, "Sách & Báo <b>") +
                        _record(4, "Sách bốn") + "<resumptionToken/></ListRecords></OAI-PMH>",
                        content_type="text/xml")
    return app


# --- tests ---------------------------------------------------------------------------------

def test_harvests_a_second_kho_by_cli_incrementally_and_sees_its_withdrawals(
        harvester, second_kho):
    settings, catalog = harvester
    provider, provider_catalog, ids = second_kho
    env = kho_environment(settings)
    runner = CliRunner()
    with kho_serve(provider, KHO_OAI_PAGE_SIZE="1", KHO_OAI_REPOSITORY_ID="kho.namdinh.vn",
                   KHO_UNION_IN_SERVE="false") as url:
        added = runner.invoke(kho, ["union", "add", NAM_DINH, f"{url}/oai", "--every", "6"],
                              env=env)
        assert added.exit_code == 0, added.output
        first = runner.invoke(kho, ["union", "harvest"], env=env)
        assert first.exit_code == 0, first.output
        assert f"{NAM_DINH}: success; added 2, updated 0, deleted 0, errors 0" in first.output

        time.sleep(1.1)  # the next harvest starts from this one's start, in whole seconds
        withdraw_aip(provider, provider_catalog, ids[1], agent="nd", reason="trùng")
        second = runner.invoke(kho, ["union", "harvest", NAM_DINH], env=env)
        assert f"{NAM_DINH}: success; added 0, updated 0, deleted 1, errors 0" in second.output
        listed = runner.invoke(kho, ["union", "list"], env=env)
        assert NAM_DINH in listed.output and "every 6 h" in listed.output
        assert "last success" in listed.output and "deleted 1" in listed.output

    with catalog.session() as session:
        harvests = list(session.scalars(select(UnionHarvest).order_by(UnionHarvest.id)))
        assert harvests[0].from_datestamp is None
        assert harvests[1].from_datestamp == \
            harvests[0].started_at.strftime("%Y-%m-%dT%H:%M:%SZ")  # the start, not a datestamp
        records = {r.oai_identifier: r for r in session.scalars(select(UnionRecord))}
        kept = records[f"oai:kho.namdinh.vn:{ids[0]}"]
        assert not kept.deleted and kept.title == TITLE_VI
        assert kept.link == f"{url}/aips/{ids[0]}"
        assert "<dc:title" in kept.raw_xml and kept.harvested_at is not None
        assert records[f"oai:kho.namdinh.vn:{ids[1]}"].deleted
        # The harvest indexed what it wrote, and took out what it marked deleted.
        found = search_works(session, Reader(None, datetime.now().date()), "",
                             own_library="Kho").works
        assert [(h.library, h.title) for w in found for h in w.holders] == [(NAM_DINH, TITLE_VI)]


def test_a_pyoai_provider_with_day_granularity_deletions_and_small_pages(harvester):
    settings, catalog = harvester
    base = ["http://placeholder/oai"]
    library = PyoaiLibrary(base)
    with serving(pyoai_app(library)) as url:
        base[0] = f"{url}/oai"
        add_source(catalog, settings, HUE, f"{url}/oai")
        first = harvest_source(settings, catalog, HUE)
        assert (first.status, first.added, first.deleted, first.errors) == ("success", 3, 0, [])

        # A transient deletion, then a record the provider simply forgets.
        library.items["oai:hue.example.vn:3"] = (datetime.utcnow().replace(microsecond=0), True, {})
        second = harvest_source(settings, catalog, HUE)
        assert second.from_datestamp == first.started_at.strftime("%Y-%m-%d")  # its granularity
        assert (second.status, second.deleted) == ("success", 1)
        del library.items["oai:hue.example.vn:1"]
        incremental = harvest_source(settings, catalog, HUE)
        assert incremental.deleted == 0  # nothing tells an incremental harvest about it
        full = harvest_source(settings, catalog, HUE, full=True)
        assert (full.status, full.deleted) == ("success", 1)  # ListIdentifiers reconciles
    with catalog.session() as session:
        live = sorted(r.oai_identifier for r in session.scalars(
            select(UnionRecord).where(UnionRecord.deleted.is_(False))))
    assert live == ["oai:hue.example.vn:2"]


def test_a_misbehaving_provider_and_a_source_that_is_down_do_not_stop_the_harvest(harvester):
    settings, catalog = harvester
    log: list[str] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with serving(misbehaving_app(log)) as bad_url:
        with serving(pyoai_app(PyoaiLibrary(["x"]))) as good_url:
            add_source(catalog, settings, "Down", "http://127.0.0.1:9/oai")
            add_source(catalog, settings, "Bad", f"{bad_url}/oai")
            add_source(catalog, settings, HUE, f"{good_url}/oai")
            reports = {r.source: r for r in harvest_all(settings, catalog, sleep=sleep)}
    assert reports["Down"].status == "failed"
    assert "cannot be reached" in reports["Down"].errors[0]
    assert reports[HUE].status == "success" and reports[HUE].added == 3
    bad = reports["Bad"]
    assert bad.status == "success" and bad.added == 3, bad.errors
    assert waits[0] == 1.0  # the Retry-After of the 503 was honoured ("Bad" comes first)
    assert log[:2] == ["Identify:", "Identify:"]
    assert log.count("ListRecords:") == 2  # the list started again after badResumptionToken
    assert any("resumption token" in e for e in bad.errors)
    assert any(e.startswith("oai:bad.example.vn:3: not well-formed XML") for e in bad.errors)
    with catalog.session() as session:
        titles = sorted(r.title for r in session.scalars(select(UnionRecord).join(
            UnionRecord.source).where(UnionRecord.source.has(name="Bad"))))
        assert titles == ["Sách bốn", "Sách một", "Truyện Kiều"]
        # One work held by two libraries: the ISBN written two ways is one key.
        works = search_works(session, Reader(None, datetime.now().date()), "truyen kieu",
                             own_library="Kho").works
        assert [sorted(h.library for h in w.holders) for w in works] == [["Bad", HUE]]
        rows = list(session.scalars(select(UnionHarvest).where(UnionHarvest.status == "failed")))
        assert len(rows) == 1 and rows[0].errors


def test_only_http_sources_size_caps_and_no_redirect_to_another_hosts_loopback(harvester):
    settings, catalog = harvester
    for url in ("ftp://hue.example.vn/oai", "file:///etc/passwd", "http://u:p@a.vn/oai",
                "javascript:alert(1)"):
        with pytest.raises(UsageError):
            add_source(catalog, settings, url, url)
    refused = CliRunner().invoke(kho, ["union", "add", "X", "gopher://a.vn/oai"],
                                 env=kho_environment(settings))
    assert refused.exit_code == 2 and "http:// or https://" in refused.output

    library = PyoaiLibrary(["x"])
    with serving(pyoai_app(library)) as url:
        port = url.rsplit(":", 1)[1]

        @Request.application
        def redirecting(request):
            target = f"http://localhost:{port}/oai" if request.path == "/away" else \
                f"{url}/oai"  # the same host: followed
            return Response("", status=302, headers={"Location": f"{target}?{request.query_string.decode()}"})
        with serving(redirecting) as redirector:
            add_source(catalog, settings, "Same host", f"{redirector}/moved")
            add_source(catalog, settings, "Elsewhere", f"{redirector}/away")
            followed = harvest_source(settings, catalog, "Same host")
            refused = harvest_source(settings, catalog, "Elsewhere")
        add_source(catalog, settings, "Too large", f"{url}/oai")
        capped = harvest_source(settings.replace(union_max_response_bytes=600), catalog,
                                "Too large")
    assert followed.status == "success", followed.errors  # 127.0.0.1 to 127.0.0.1: followed
    assert refused.status == "failed"
    assert "private or loopback address of another host" in refused.errors[0]
    assert capped.status == "failed" and "KHO_UNION_MAX_RESPONSE_BYTES" in capped.errors[0]


def test_a_provider_that_stalls_or_drips_is_cut_off_at_the_timeout_and_others_go_on(harvester):
    """KHO_UNION_TIMEOUT bounds each answer: a provider on loopback that says nothing, and
    one that sends a byte now and then (never idle for the socket's timeout), both fail in
    about that time instead of holding the harvest; the source after them is harvested."""
    settings, catalog = harvester
    settings = settings.replace(union_timeout_s=1.0, union_retries=0)
    release = threading.Event()

    @Request.application
    def stalling(request):
        release.wait(30)  # never answers while the test waits
        return Response("", status=503)

    @Request.application
    def dripping(request):
        def body():
            yield OAI_HEAD.encode()
            for _ in range(200):  # 200 × 0.1 s; each read sees bytes well within 1 s
                if release.wait(0.1):
                    return
                yield b" " * 512
        return Response(body(), content_type="text/xml")

    try:
        with serving(stalling) as stall_url, serving(dripping) as drip_url, \
                serving(pyoai_app(PyoaiLibrary(["x"]))) as good_url:
            add_source(catalog, settings, "Stalls", f"{stall_url}/oai")
            add_source(catalog, settings, "Drips", f"{drip_url}/oai")
            add_source(catalog, settings, HUE, f"{good_url}/oai")
            began = time.monotonic()
            reports = {r.source: r for r in harvest_all(settings, catalog)}
            took = time.monotonic() - began
    finally:
        release.set()
    assert reports["Stalls"].status == "failed"
    assert "timed out" in reports["Stalls"].errors[0], reports["Stalls"].errors
    assert reports["Drips"].status == "failed"
    assert "longer than KHO_UNION_TIMEOUT (1.0 s)" in reports["Drips"].errors[0], \
        reports["Drips"].errors
    assert reports[HUE].status == "success" and reports[HUE].added == 3
    assert took < 8, took  # about 1 s each, not the 20 s of the drip nor the 30 of the stall


def test_union_page_shows_sources_reports_and_one_work_with_every_holder(
        harvester, second_kho, ingest_bag, tmp_path):
    settings, catalog = harvester
    provider, _, _ = second_kho
    ingest_bag(make_page_bag(tmp_path / "own", pages=1, external_id="OWN-1"))  # held here too
    base = ["x"]
    with kho_serve(provider, KHO_OAI_REPOSITORY_ID="kho.namdinh.vn",
                   KHO_UNION_IN_SERVE="false") as nd_url, \
            serving(pyoai_app(PyoaiLibrary(base))) as hue_url:
        base[0] = f"{hue_url}/oai"
        add_source(catalog, settings, NAM_DINH, f"{nd_url}/oai")
        add_source(catalog, settings, HUE, f"{hue_url}/oai")
        assert all(r.status == "success" for r in harvest_all(settings, catalog))
        app = create_app(settings.replace(holding_institution="Thư viện tỉnh Hà Nam"))
        client = app.test_client()
        page = client.get("/union?q=DAI+NAM+thuc+luc").get_data(as_text=True)
        overview = client.get("/union").get_data(as_text=True)
        english = client.get("/language/en?next=/union", follow_redirects=True).get_data(as_text=True)
        app.extensions["kho"].catalog.dispose()
    assert page.count('class="work"') == 1
    for holder in ("Thư viện tỉnh Hà Nam", NAM_DINH, HUE):
        assert holder in page
    assert 'href="https://hue.example.vn/s/1"' in page
    assert NAM_DINH in overview and HUE in overview and "success" in overview
    # The page speaks the reader's language (the site's switch), Vietnamese by default.
    assert "Các thư viện nguồn" in overview and "thành công" in overview
    assert "Source libraries" in english and "Các thư viện nguồn" not in english


def test_kho_serve_harvests_each_source_when_its_interval_comes(harvester):
    settings, catalog = harvester
    base = ["x"]
    with serving(pyoai_app(PyoaiLibrary(base))) as hue_url:
        base[0] = f"{hue_url}/oai"
        add_source(catalog, settings, HUE, f"{hue_url}/oai", interval_hours=24)
        with kho_serve(settings, KHO_UNION_TICK="1"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with catalog.session() as session:
                    done = session.scalar(select(UnionHarvest).where(
                        UnionHarvest.status == "success"))
                    if done is not None:
                        break
                time.sleep(0.3)
            time.sleep(2.5)  # two more ticks: the source is not due again for 24 hours
    assert done is not None and done.added == 3
    with catalog.session() as session:
        assert len(list(session.scalars(select(UnionHarvest)))) == 1
