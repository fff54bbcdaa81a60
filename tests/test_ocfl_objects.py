"""AIPs as OCFL 1.1 objects, identical on a local folder and on S3, held against ocfl-py."""
from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from ocfl import StorageRoot
from ocfl.layout_0003_hash_and_id_n_tuple import Layout_0003_Hash_And_Id_N_Tuple
from ocfl.layout_registry import add_layout

from repository.errors import DigestMismatch, NotFound, StorageError
from repository.storage import LocalStorage, OcflStore, SourceFile
from tests.fixtures.s3 import assert_valid_ocfl_object, download_tree

FILES = {
    "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
    "data/Trang 1 – Hà Nội.tif": b"II*\x00 trang mot " * 500,
    "data/Ghi chú/Đà Nẵng, Quảng Nam.txt": "Thư viện tỉnh – Địa chí\n".encode(),
}
OBJECT_ID = "urn:kho:aip:QN-2024-0001"


def sources(files: dict[str, bytes], *, wrong: str | None = None) -> list[SourceFile]:
    """Source files with the bag's sha256 and md5 as expected digests (one wrong if asked)."""
    result = []
    for path, data in files.items():
        expected = {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
        if path == wrong:
            expected["sha256"] = hashlib.sha256(b"not these bytes").hexdigest()
        result.append(SourceFile(path, (lambda d=data: io.BytesIO(d)), len(data), expected))
    return result


def create(store: OcflStore, object_id: str = OBJECT_ID, files=FILES):
    return store.create_object(object_id, sources(files), message="Tiếp nhận gói BagIt",
                               user_name="Nguyễn Thị Thu", user_address="thu@thuvien.example")


class Layout0004(Layout_0003_Hash_And_Id_N_Tuple):
    """Extension 0004 for ocfl-py's storage root validator (it ships 0002 and 0003 only)."""

    def __init__(self):
        super().__init__()
        self.NAME = "0004-hashed-n-tuple-storage-layout"
        self.DESCRIPTION = "Extension 0004: Hashed N-tuple Storage Layout"
        self.PARAMS = dict(self.PARAMS, shortObjectRoot=lambda value: None)

    def identifier_to_path(self, identifier):
        digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()
        return "/".join([digest[i * 3:i * 3 + 3] for i in range(3)] + [digest])


add_layout("0004-hashed-n-tuple-storage-layout", Layout0004)


def storage_root_is_valid(storage, tmp_path: Path) -> bool:
    """The whole storage root through ocfl-py's StorageRoot validator (S3: a downloaded copy)."""
    folder = storage.root if isinstance(storage, LocalStorage) else \
        download_tree(storage, "", tmp_path / f"root-copy-{len(list(tmp_path.iterdir()))}")
    root = StorageRoot(root=str(folder))
    return root.validate() and root.num_objects == root.good_objects > 0


def validate_storage_root(storage, tmp_path: Path) -> None:
    assert storage_root_is_valid(storage, tmp_path), "storage root is not valid OCFL"


def test_new_object_is_valid_ocfl_1_1(storage_location, tmp_path):
    store = OcflStore(storage_location)
    inventory = create(store)
    root = store.object_root(OBJECT_ID)
    output = assert_valid_ocfl_object(storage_location, root, tmp_path)
    assert "OCFL v1.1 Object" in output
    validate_storage_root(storage_location, tmp_path)
    with storage_location.open("0=ocfl_1.1") as stream:
        assert stream.read() == b"ocfl_1.1\n"
    with storage_location.open("extensions/0004-hashed-n-tuple-storage-layout/config.json") as s:
        assert json.load(s) == {"extensionName": "0004-hashed-n-tuple-storage-layout",
                                "digestAlgorithm": "sha256", "tupleSize": 3,
                                "numberOfTuples": 3, "shortObjectRoot": False}
    assert inventory.data["digestAlgorithm"] == "sha512"
    assert inventory.state() == {p: hashlib.sha512(d).hexdigest() for p, d in FILES.items()}
    tif = "v1/content/data/Trang 1 – Hà Nội.tif"
    assert inventory.fixity_of(tif) == {
        "sha512": hashlib.sha512(FILES["data/Trang 1 – Hà Nội.tif"]).hexdigest(),
        "md5": hashlib.md5(FILES["data/Trang 1 – Hà Nội.tif"]).hexdigest(),
        "sha1": hashlib.sha1(FILES["data/Trang 1 – Hà Nội.tif"]).hexdigest(),
        "sha256": hashlib.sha256(FILES["data/Trang 1 – Hà Nội.tif"]).hexdigest()}
    assert store.read_inventory(OBJECT_ID) == inventory.data
    assert list(store.list_objects()) == [OBJECT_ID]
    assert store.incomplete_objects() == []


def test_object_root_follows_the_0004_layout(storage_location):
    digest = hashlib.sha256(OBJECT_ID.encode()).hexdigest()
    assert OcflStore(storage_location).object_root(OBJECT_ID) == \
        f"{digest[:3]}/{digest[3:6]}/{digest[6:9]}/{digest}"


def test_bad_checksum_in_one_file_stores_nothing(storage_location):
    store = OcflStore(storage_location)
    with pytest.raises(DigestMismatch):
        store.create_object(OBJECT_ID, sources(FILES, wrong="data/Ghi chú/Đà Nẵng, Quảng Nam.txt"),
                            message="m", user_name="u")
    assert list(storage_location.list(store.object_root(OBJECT_ID))) == []
    assert list(store.list_objects()) == []
    assert store.incomplete_objects() == []
    with pytest.raises(NotFound):
        store.read_inventory(OBJECT_ID)


def test_existing_object_is_never_overwritten(storage_location):
    store = OcflStore(storage_location)
    create(store)
    with pytest.raises(StorageError):
        create(store)


def test_new_version_reuses_unchanged_content_and_never_touches_v1(storage_location, tmp_path):
    store = OcflStore(storage_location)
    create(store)
    root = store.object_root(OBJECT_ID)
    v1_before = {k: storage_location.head(k).etag for k in storage_location.list(f"{root}/v1/")}
    new_dc = '{"title": "Địa bạ làng Phú Chiêm (bản sửa)"}'.encode()
    tif = FILES["data/Trang 1 – Hà Nội.tif"]
    inventory = store.add_version(
        OBJECT_ID,
        [SourceFile("kho/dc.json", lambda: io.BytesIO(new_dc)),
         SourceFile("data/Trang 1 – bản sao.tif", lambda: io.BytesIO(tif))],  # same bytes
        remove=["data/Ghi chú/Đà Nẵng, Quảng Nam.txt"],
        message="Sửa mô tả", user_name="Trần Văn Bình", user_address="mailto:binh@thuvien.example")
    assert inventory.head == "v2"
    assert sorted(storage_location.list(f"{root}/v2/content/")) == [f"{root}/v2/content/kho/dc.json"]
    assert inventory.manifest[hashlib.sha512(tif).hexdigest()] == ["v1/content/data/Trang 1 – Hà Nội.tif"]
    assert sorted(inventory.state("v2")) == ["bagit.txt", "data/Trang 1 – Hà Nội.tif",
                                             "data/Trang 1 – bản sao.tif", "kho/dc.json"]
    assert {k: storage_location.head(k).etag for k in storage_location.list(f"{root}/v1/")} == v1_before
    with store.open_file(OBJECT_ID, "data/Trang 1 – bản sao.tif") as stream:
        assert stream.read() == tif
    with store.open_file(OBJECT_ID, "data/Ghi chú/Đà Nẵng, Quảng Nam.txt", version="v1") as stream:
        assert stream.read() == FILES["data/Ghi chú/Đà Nẵng, Quảng Nam.txt"]
    with pytest.raises(NotFound):
        store.open_file(OBJECT_ID, "data/Ghi chú/Đà Nẵng, Quảng Nam.txt")
    assert_valid_ocfl_object(storage_location, root, tmp_path)

    # A third version whose new file's sha512 is known up front uploads nothing.
    v3 = store.add_version(OBJECT_ID, [SourceFile("again.json", lambda: pytest.fail("read"),
                                                  expected={"sha512": hashlib.sha512(new_dc).hexdigest()})],
                           message="v3", user_name="u")
    assert v3.state()["again.json"] == hashlib.sha512(new_dc).hexdigest()
    assert list(storage_location.list(f"{root}/v3/content/")) == []
    assert_valid_ocfl_object(storage_location, root, tmp_path)


def test_open_file_reads_byte_ranges_and_nfd_paths(storage_location):
    store = OcflStore(storage_location)
    create(store)
    data = FILES["data/Trang 1 – Hà Nội.tif"]
    with store.open_file(OBJECT_ID, "data/Trang 1 – Hà Nội.tif", start=100, end=199) as stream:
        assert stream.read() == data[100:200]
    nfd = "data/Trang 1 – Ha\u0300 No\u0323\u0302i.tif"
    with store.open_file(OBJECT_ID, nfd, start=0, end=3) as stream:
        assert stream.read() == b"II*\x00"


def test_object_without_root_inventory_is_incomplete_and_gc_removes_it(storage_location, tmp_path):
    store = OcflStore(storage_location)
    create(store)
    # What a crash after the content writes leaves: content and a version inventory, no root one.
    crashed = store.object_root("urn:kho:aip:crashed")
    storage_location.put(f"{crashed}/v1/content/data/a.txt", io.BytesIO(b"a"))
    storage_location.put(f"{crashed}/v1/inventory.json", io.BytesIO(b"{}"))
    assert list(store.list_objects()) == [OBJECT_ID]
    assert not storage_root_is_valid(storage_location, tmp_path)  # the validator sees it too
    [item] = store.incomplete_objects()
    assert item.prefix == f"{crashed}/" and item.reason == "no root inventory"
    assert store.collect_garbage(timedelta(hours=1)) == []  # still inside the grace period
    assert store.collect_garbage(timedelta(0), dry_run=True) == [item]
    assert storage_location.exists(f"{crashed}/v1/content/data/a.txt")
    assert store.collect_garbage(timedelta(0)) == [item]
    assert list(storage_location.list(f"{crashed}/")) == []
    assert store.incomplete_objects() == []
    validate_storage_root(storage_location, tmp_path)


def test_unfinished_version_is_cleaned_and_next_version_succeeds(storage_location, tmp_path):
    store = OcflStore(storage_location)
    create(store)
    root = store.object_root(OBJECT_ID)
    storage_location.put(f"{root}/v2/content/half.tif", io.BytesIO(b"half"))
    [item] = store.incomplete_objects()
    assert item.prefix == f"{root}/v2/"
    assert store.read_inventory(OBJECT_ID)["head"] == "v1"
    store.add_version(OBJECT_ID, [SourceFile("new.txt", lambda: io.BytesIO(b"new"))],
                      message="m", user_name="u")
    assert not storage_location.exists(f"{root}/v2/content/half.tif")
    assert_valid_ocfl_object(storage_location, root, tmp_path)


def test_tampered_root_inventory_is_refused(storage_location):
    store = OcflStore(storage_location)
    create(store)
    key = f"{store.object_root(OBJECT_ID)}/inventory.json"
    with storage_location.open(key) as stream:
        body = stream.read().replace(b"Nguy", b"NGUY")
    storage_location.put(key, io.BytesIO(body))
    with pytest.raises(DigestMismatch):
        store.read_inventory(OBJECT_ID)


def test_delete_object_removes_every_file(storage_location, tmp_path):
    store = OcflStore(storage_location)
    create(store)
    create(store, "urn:kho:aip:other", {"a.txt": b"a"})
    # 3 content files, 2 inventories with their sidecars, the declaration.
    assert store.delete_object(OBJECT_ID) == 8
    assert sorted(store.list_objects()) == ["urn:kho:aip:other"]
    assert list(storage_location.list(store.object_root(OBJECT_ID))) == []
    with pytest.raises(NotFound):
        store.delete_object(OBJECT_ID)
    validate_storage_root(storage_location, tmp_path)


def test_rollback_of_a_new_version_restores_the_previous_one(storage_location, tmp_path):
    store = OcflStore(storage_location)
    before = create(store).data
    root = store.object_root(OBJECT_ID)
    store.add_version(OBJECT_ID, [SourceFile("kho/dc.json", lambda: io.BytesIO(b"{}"))],
                      message="m", user_name="u")
    with pytest.raises(StorageError):
        store.rollback_version(OBJECT_ID, "v1")
    store.rollback_version(OBJECT_ID, "v2")
    assert store.read_inventory(OBJECT_ID) == before
    assert list(storage_location.list(f"{root}/v2/")) == []
    assert store.incomplete_objects() == []
    assert_valid_ocfl_object(storage_location, root, tmp_path)


def test_update_interrupted_between_root_inventory_and_sidecar_still_reads(storage_location):
    store = OcflStore(storage_location)
    create(store)
    root = store.object_root(OBJECT_ID)
    with storage_location.open(f"{root}/inventory.json.sha512") as stream:
        old_sidecar = stream.read()
    store.add_version(OBJECT_ID, [SourceFile("x.txt", lambda: io.BytesIO(b"x"))],
                      message="m", user_name="u")
    storage_location.put(f"{root}/inventory.json.sha512", io.BytesIO(old_sidecar))  # the crash
    assert store.read_inventory(OBJECT_ID)["head"] == "v2"
