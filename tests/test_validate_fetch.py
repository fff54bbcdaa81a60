"""--allow-fetch only ever fetches https from public hosts into the bag; every refusal tested
here (no internet is needed: each is refused before any connection)."""
from __future__ import annotations

import pytest

from repository.ingest import validate_bag
from repository.ingest.fetch import FetchRefused, fetch_file

REFUSED_URLS = ["file:///etc/passwd", "http://example.org/page.tif", "ftp://example.org/x",
                "https://127.0.0.1/page.tif", "https://10.0.0.1/page.tif",
                "https://169.254.169.254/latest/meta-data/", "https://localhost/page.tif",
                "https://[::1]/page.tif", "https://192.168.1.5/page.tif",
                "https://224.0.0.1/page.tif", "https://user:pw@example.org/x"]
DIGESTS = {"sha256": "0" * 64}


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_fetch_refuses_non_https_and_non_public_hosts(tmp_path, url):
    with pytest.raises(FetchRefused):
        fetch_file(url, tmp_path, "data/page.tif", length=3, digests=DIGESTS, max_bytes=100)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["../outside.tif", "/tmp/outside.tif", "data/../../x",
                                  "~/x.tif", "bagit.txt"])
def test_fetch_refuses_paths_outside_the_payload(tmp_path, path):
    bag = tmp_path / "bag"
    bag.mkdir()
    with pytest.raises(FetchRefused):
        fetch_file("https://example.org/x", bag, path, length=1, digests=DIGESTS, max_bytes=9)
    assert list(tmp_path.iterdir()) == [bag] and list(bag.iterdir()) == []


@pytest.mark.parametrize("url", ["https://127.0.0.1/p3.tif", "https://169.254.169.254/p3",
                                 "file:///etc/hostname", "http://example.org/p3.tif"])
def test_allow_fetch_on_a_holey_bag_reports_the_refusal_and_writes_nothing(bag_factory, url):
    root = bag_factory(fetch=[(url, "data/Trang 3 – Sài Gòn.tif", b"trang ba")])
    before = sorted(p.name for p in (root / "data").iterdir())
    result = validate_bag(root, allow_fetch=True, processes=1)
    assert not result.report.valid
    refusal = [p for p in result.report.errors if p.code == "K506"]
    assert refusal and refusal[0].path == "data/Trang 3 – Sài Gòn.tif"
    assert sorted(p.name for p in (root / "data").iterdir()) == before
    assert result.incomplete
