"""OCR of printed Vietnamese after ingest: real Tesseract on pages rendered with known text."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.catalog import events_for_aip, open_catalog
from repository.cli import kho
from repository.errors import ConfigurationError
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.text import after_ingest, latest_job, ocr_aip, page_texts
from repository.text.ocr import languages_for, parse_rules
from repository.text.run import derivative_folder, index_ocr_derivatives
from tests.fixtures.aips import add_collections
from tests.fixtures.events import assert_newest_event_is_guarded_by_the_stored_head
from tests.fixtures.text import make_text_bag


@pytest.fixture
def ocr_settings(kho_settings):
    return kho_settings.replace(ocr_languages="collection:Hán-Nôm=vie+fra; type:Text=vie",
                                ocr_processes=2)


def test_ocr_after_ingest_reads_the_vietnamese_words_with_their_boxes(ocr_settings, tmp_path):
    catalog = open_catalog(ocr_settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    result = ingest_package(make_text_bag(tmp_path / "bag"), settings=ocr_settings,
                            catalog=catalog, collection="Báo chí")
    before = len(list(get_location(ocr_settings, "local").list(result.object_root)))
    job = after_ingest(ocr_settings, catalog, result.identifier)
    assert job is not None
    summary = latest_job(catalog, result.identifier)
    assert (summary.status, summary.pages_total, summary.pages_done, summary.pages_failed) == \
        ("done", 2, 2, 0)
    texts = dict(page_texts(catalog, result.identifier))
    assert set(texts) == {"data/trang 1.png", "data/trang 2.png"}
    # Tones and đ exactly as printed, in NFC.
    assert "Hà Nội năm 1890" in texts["data/trang 1.png"]
    assert "Đại Nam thực lục" in texts["data/trang 1.png"]
    assert "Phú Chiêm" in texts["data/trang 2.png"]
    # hOCR with word boxes and plain text are derivatives, outside the AIP.
    folder = derivative_folder(ocr_settings, result.identifier)
    hocr = sorted(folder.glob("*.vie.hocr"))
    assert len(hocr) == 2 and len(sorted(folder.glob("*.vie.txt"))) == 2
    assert "ocrx_word" in hocr[0].read_text(encoding="utf-8")
    stored = get_location(ocr_settings, "local")
    assert not [k for k in stored.list(result.object_root) if k.endswith(".hocr")]
    assert len(list(stored.list(result.object_root))) == before
    events = events_for_aip_types(catalog, result.identifier)
    assert "metadata extraction" in events
    assert_newest_event_is_guarded_by_the_stored_head(catalog, stored, "metadata extraction")
    # A second run reads nothing again; --force would.
    again = ocr_aip(ocr_settings, catalog, result.identifier)
    assert (again.pages_done, again.pages_failed) == (2, 0)
    # The catalogue's copy is rebuilt from the derivatives without Tesseract.
    from repository.text.models import PageText
    with catalog.session() as session:
        session.query(PageText).delete()
    assert not dict(page_texts(catalog, result.identifier))
    assert index_ocr_derivatives(ocr_settings, catalog, result.identifier) == 2
    assert dict(page_texts(catalog, result.identifier)) == texts
    catalog.dispose()


def events_for_aip_types(catalog, identifier):
    with catalog.session() as session:
        return [e.event_type for e in events_for_aip(session, identifier)]


def test_a_page_that_cannot_be_read_is_reported_and_the_others_are_read(settings, tmp_path):
    settings = settings.replace(ocr_processes=1)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    result = ingest_package(make_text_bag(tmp_path / "bag"), settings=settings,
                            catalog=catalog, collection="Báo chí")
    catalog.dispose()
    # A damaged page: its stored bytes are no longer an image.
    storage = get_location(settings, "local")
    import io
    storage.put(f"{result.object_root}/v1/content/data/trang 1.png", io.BytesIO(b"not an image"),
                algorithms=())
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    run = CliRunner().invoke(kho, ["text", "ocr", result.identifier, "-l", "vie", "--json"],
                             env=env)
    assert run.exit_code == 1, run.output
    summary = json.loads(run.output)
    assert (summary["done"], summary["failed"], summary["pages"]) == (1, 1, 2)
    assert summary["failures"][0]["page"] == "data/trang 1.png"
    assert "Tesseract" in summary["failures"][0]["message"]
    status = CliRunner().invoke(kho, ["text", "status", result.identifier], env=env)
    assert "failed: data/trang 1.png" in status.output
    catalog = open_catalog(settings.catalog_url)
    assert set(dict(page_texts(catalog, result.identifier))) == {"data/trang 2.png"}
    catalog.dispose()


def test_which_aips_get_ocr_and_in_which_languages_is_configuration(settings):
    configured = settings.replace(
        ocr_languages="collection:Báo chí thuộc địa=vie+fra; type:Text=vie")
    text = {"type": [{"value": "Text"}]}
    # Collections match without regard to tones or case, like every Kho search.
    assert languages_for(configured, "BAO CHI THUOC DIA", text) == "vie+fra"
    assert languages_for(configured, "Địa bạ", text) == "vie"
    assert languages_for(configured, "Địa bạ", {"type": [{"value": "Image"}]}) is None
    assert languages_for(settings, "Địa bạ", text) is None  # nothing configured: no OCR
    with pytest.raises(ConfigurationError, match="vie fra"):
        parse_rules("type:Text=vie fra")
    with pytest.raises(ConfigurationError, match="selector"):
        parse_rules("shelf:A=vie")


REDIS = os.environ.get("KHO_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.mark.redis
def test_ocr_runs_on_a_celery_worker_when_scaled_out(settings, tmp_path):
    import random

    import redis
    url = f"{REDIS}/{random.randint(1, 15)}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {url}: {exc}; CI is set, so this fails")
        pytest.skip(f"Redis not reachable at {url}: {exc} (would fail in CI)")
    queue = f"kho-test-ocr-{uuid.uuid4().hex[:8]}"
    settings = settings.replace(redis_url=url, ocr_executor="celery", ocr_queue=queue,
                                ocr_languages="*=vie", celery_queue=f"{queue}-fixity")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    result = ingest_package(make_text_bag(tmp_path / "bag", {1: ["Hà Nội năm 1890"]}),
                            settings=settings, catalog=catalog, collection="Báo chí")
    after_ingest(settings, catalog, result.identifier)  # enqueued, not run here
    assert latest_job(catalog, result.identifier).status == "queued"
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir), "KHO_REDIS_URL": url,
           "KHO_OCR_QUEUE": queue, "KHO_CELERY_QUEUE": f"{queue}-fixity"}
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([str(Path(sys.executable).parent / "kho"), "worker",
                               "--concurrency", "1", "--loglevel", "WARNING"],
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and latest_job(
                catalog, result.identifier).status in ("queued", "running"):
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
        redis.Redis.from_url(url).delete(queue)
    summary = latest_job(catalog, result.identifier)
    assert summary.status == "done", (tmp_path / "worker.log").read_text()
    assert "Hà Nội năm 1890" in dict(page_texts(catalog, result.identifier))["data/trang 1.png"]
    catalog.dispose()


def test_kho_ingest_runs_the_configured_ocr_and_reports_it(settings, tmp_path):
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_OCR_LANGUAGES": "collection:BÁO CHÍ=vie", "KHO_OCR_PROCESSES": "1"}
    bag = make_text_bag(tmp_path / "bag", {1: ["Hà Nội năm 1890"]})
    for name in ("Báo chí", "Địa bạ"):
        made = CliRunner().invoke(kho, ["collection", "add", name], env=env)
        assert made.exit_code == 0, made.output
    run = CliRunner().invoke(kho, ["ingest", str(bag), "--collection", "Báo chí", "--json"],
                             env=env)
    assert run.exit_code == 0, run.output
    document = json.loads(run.output)
    assert document["ocr"]["status"] == "done" and document["ocr"]["done"] == 1
    other = CliRunner().invoke(kho, ["ingest", str(make_text_bag(tmp_path / "b2", external_id="X"))
                                     , "--collection", "Địa bạ", "--json"], env=env)
    assert json.loads(other.output)["ocr"] is None  # not configured for that collection


def test_a_language_without_tesseract_data_fails_the_run_not_the_ingest(settings, tmp_path):
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_OCR_LANGUAGES": "*=vie+xyz"}
    bag = make_text_bag(tmp_path / "bag", {1: ["Hà Nội"]})
    made = CliRunner().invoke(kho, ["collection", "add", "Báo chí"], env=env)
    assert made.exit_code == 0, made.output
    run = CliRunner().invoke(kho, ["ingest", str(bag), "--collection", "Báo chí"], env=env)
    assert run.exit_code == 0, run.output
    assert "no data for xyz: install tesseract-ocr-xyz" in run.output
    identifier = run.output.strip().splitlines()[-1]
    status = CliRunner().invoke(kho, ["text", "status", identifier, "--json"], env=env)
    assert json.loads(status.output)["status"] == "failed"


def test_ocr_progress_of_a_long_book_is_visible_through_the_api_while_it_is_read(
        settings, tmp_path):
    """Issue 16: progress is visible for long books. One page at a time, each page done is
    in the job row before the next is read, so GET /api/v1/aips/<id>/text shows it grow."""
    from repository.web import create_app
    settings = settings.replace(ocr_processes=1)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    pages = {n: [f"Trang số {n}: Hà Nội năm 189{n}"] for n in range(1, 5)}
    result = ingest_package(make_text_bag(tmp_path / "bag", pages), settings=settings,
                            catalog=catalog, collection="Báo chí")
    client = create_app(settings).test_client()
    seen = []

    def read_progress(done, failed, total):
        # Called by the run (on its OCR thread) after each page: what a reader of the API
        # sees at that moment, from a connection of its own.
        answer = client.get(f"/api/v1/aips/{result.identifier}/text").get_json()
        ocr, read = answer["ocr"], [p["page"] for p in answer["pages"] if p["texts"]]
        seen.append((done, ocr["status"], ocr["done"], ocr["failed"], ocr["pages"], len(read)))

    summary = ocr_aip(settings, catalog, result.identifier, languages="vie",
                      progress=read_progress)
    assert (summary.status, summary.pages_done) == ("done", 4)
    # The total is known before the first page is read; then one more page at each step,
    # and the pages read so far already have their text (stored page by page, not at the end).
    assert seen == [(n, "running", n, 0, 4, n) for n in range(0, 5)]
    ocr = client.get(f"/api/v1/aips/{result.identifier}/text").get_json()["ocr"]
    assert (ocr["status"], ocr["done"]) == ("done", 4)
    catalog.dispose()
