"""IIIF Image API 3.0 level 2: request parsing, pixels, the stored-tile fast path, HTTP caching,
and the official validator against a real server."""
from __future__ import annotations

import io
import threading

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from repository.access import ImageSource, ensure_derivative
from repository.access.derivatives import open_pyramid
from repository.access.image_request import (InvalidImageRequest, Limits, UnsupportedImageRequest,
                                             parse_image_request, parse_region, parse_size)
from repository.errors import NotFound, PermissionDenied
from repository.web import create_app
from tests.fixtures.servers import run_image_validator

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"


# --- request parsing (IIIF Image 3.0 §4) ---

@pytest.mark.parametrize("region, expected", [
    ("full", (0, 0, 1000, 800)),
    ("square", (100, 0, 800, 800)),
    ("10,20,300,400", (10, 20, 300, 400)),
    ("900,700,500,500", (900, 700, 100, 100)),      # cropped at the image's edge
    ("pct:10,25,50,50", (100, 200, 500, 400)),
    ("pct:0.5,0,10.25,100", (5, 0, 102, 800)),
])
def test_regions_resolve_to_pixels_of_the_full_image(region, expected):
    assert parse_region(region, 1000, 800) == expected


@pytest.mark.parametrize("size, expected", [
    ("max", (400, 300)), ("200,", (200, 150)), (",150", (200, 150)), ("100,50", (100, 50)),
    ("!200,200", (200, 150)), ("!100,300", (100, 75)), ("pct:50", (200, 150)),
    ("^max", (400, 300)), ("^800,", (800, 600)), ("^,600", (800, 600)), ("^500,500", (500, 500)),
    ("^!800,800", (800, 600)), ("^pct:150", (600, 450)), ("^200,", (200, 150)),
])
def test_sizes_scale_the_region(size, expected):
    assert parse_size(size, 400, 300) == expected


@pytest.mark.parametrize("size", ["800,", ",301", "401,300", "pct:101", "!800,800"])
def test_enlarging_without_caret_is_refused(size):
    with pytest.raises(InvalidImageRequest):
        parse_size(size, 400, 300)


def test_max_respects_the_servers_limits():
    assert parse_size("max", 4000, 2000, Limits(max_width=1000)) == (1000, 500)
    assert parse_size("max", 4000, 2000, Limits(max_area=2_000_000)) == (2000, 1000)
    with pytest.raises(InvalidImageRequest):
        parse_size("2000,", 4000, 2000, Limits(max_width=1000))


@pytest.mark.parametrize("segments", [
    ("nonsense", "max", "0", "default.jpg"), ("0,0,10", "max", "0", "default.jpg"),
    ("0,0,0,10", "max", "0", "default.jpg"), ("1000,0,10,10", "max", "0", "default.jpg"),
    ("0,800,10,10", "max", "0", "default.jpg"), ("pct:a,0,1,1", "max", "0", "default.jpg"),
    ("full", "0,", "0", "default.jpg"), ("full", "abc", "0", "default.jpg"),
    ("full", "!100,", "0", "default.jpg"), ("full", ",", "0", "default.jpg"),
    ("full", "max", "361", "default.jpg"), ("full", "max", "-90", "default.jpg"),
    ("full", "max", "!!90", "default.jpg"), ("full", "max", "0", "native.jpg"),
    ("full", "max", "0", "default"), ("full", "max", "0", "default.xyz"),
])
def test_malformed_requests_are_400(segments):
    with pytest.raises(InvalidImageRequest):
        parse_image_request(*segments, 1000, 800)


def test_known_but_unoffered_format_is_501():
    with pytest.raises(UnsupportedImageRequest):
        parse_image_request("full", "max", "0", "default.jp2", 1000, 800)


def test_rotation_mirror_quality_and_format_are_read():
    r = parse_image_request("full", "max", "!90.5", "gray.png", 1000, 800)
    assert (r.mirror, r.rotation, r.quality, r.format) == (True, 90.5, "gray", "png")
    assert r.canonical(1000, 800) == "full/max/!90.5/gray.png"
    r = parse_image_request("pct:50,50,50,50", "250,", "0", "default.jpg", 1000, 800)
    assert r.canonical(1000, 800) == "500,400,500,400/250,200/0/default.jpg"


# --- a served image and the app around it ---

def _test_image(width: int = 1300, height: int = 1100) -> Image.Image:
    """Smooth gradients (JPEG keeps them well) with a few solid blocks to locate regions by."""
    r = Image.linear_gradient("L").resize((width, height))
    g = r.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    b = Image.new("L", (width, height), 90)
    image = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 100, 299, 249), fill=(220, 30, 30))
    draw.rectangle((700, 600, 899, 899), fill=(20, 40, 200))
    return image


@pytest.fixture
def images(tmp_path, shared_dir) -> dict[str, ImageSource]:
    folder = tmp_path / "originals"
    folder.mkdir()
    _test_image().save(folder / "page.png")
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((0, 0, 149, 199), fill=(10, 120, 10, 255))
    rgba.save(folder / "alpha.png")
    _test_image(400, 300).save(folder / "page.jp2")
    import pyvips
    grey16 = (pyvips.Image.xyz(300, 200)[0] * 200).cast("ushort")
    rgb16 = grey16.bandjoin([grey16, grey16]).copy(interpretation="rgb16")
    rgb16.tiffsave(str(folder / "page16.tif"))
    _test_image(100, 90).save(folder / "tiny.png")  # smaller than one 512-pixel tile
    sources = {name: ImageSource(folder / file, f"digest{name}0000")
               for name, file in [("page", "page.png"), ("alpha", "alpha.png"),
                                  ("jp2", "page.jp2"), ("sixteen", "page16.tif"),
                                  ("tiny", "tiny.png")]}
    sources[VALIDATOR_ID] = ImageSource(
        shared_dir / "conformance" / "iiif-image" / f"{VALIDATOR_ID}.png", "validatorimage0001")
    return sources


@pytest.fixture
def app(settings, images):
    app = create_app(settings, upgrade_database=False)

    def resolve(image_id: str) -> ImageSource:
        if image_id == "secret":
            raise PermissionDenied("restricted")
        if image_id not in images:
            raise NotFound(image_id)
        return images[image_id]

    app.extensions["kho.image_resolver"] = resolve
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _get_image(client, path: str) -> Image.Image:
    response = client.get(f"/iiif/3/image/{path}")
    assert response.status_code == 200, response.get_data(as_text=True)
    image = Image.open(io.BytesIO(response.data))
    image.load()
    return image


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    diff = ImageChops.difference(a.convert(b.mode), b)
    return sum(ImageStat.Stat(diff).mean) / len(diff.getbands())


@pytest.mark.parametrize("request_path, expected", [
    ("full/max/0/default.png", lambda im: im),
    ("100,100,200,150/max/0/default.png", lambda im: im.crop((100, 100, 300, 250))),
    ("pct:50,50,50,50/max/0/color.png", lambda im: im.crop((650, 550, 1300, 1100))),
    ("square/max/0/default.png", lambda im: im.crop((100, 0, 1200, 1100))),
    ("full/325,/0/default.png", lambda im: im.resize((325, 275), Image.Resampling.LANCZOS)),
    ("full/!650,650/0/default.png", lambda im: im.resize((650, 550), Image.Resampling.LANCZOS)),
    ("600,500,400,500/max/90/default.png",
     lambda im: im.crop((600, 500, 1000, 1000)).transpose(Image.Transpose.ROTATE_270)),
    ("600,500,400,500/max/180/default.png",
     lambda im: im.crop((600, 500, 1000, 1000)).transpose(Image.Transpose.ROTATE_180)),
    ("600,500,400,500/max/!0/default.png",
     lambda im: im.crop((600, 500, 1000, 1000)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    ("600,500,400,500/max/!90/default.png",
     lambda im: im.crop((600, 500, 1000, 1000)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
     .transpose(Image.Transpose.ROTATE_270)),
    ("full/max/0/gray.png", lambda im: im.convert("L")),
    ("full/max/0/default.jpg", lambda im: im),
    ("full/max/0/default.webp", lambda im: im),
    ("full/max/0/default.tif", lambda im: im),
    ("full/max/0/gray.gif", lambda im: im.convert("L")),
])
def test_rendered_pixels_match_the_same_operation_in_pillow(client, request_path, expected):
    got = _get_image(client, f"page/{request_path}")
    want = expected(_test_image())
    assert got.size == want.size
    assert _mean_difference(got, want) < 3.0


def test_bitonal_is_black_and_white_only(client):
    got = _get_image(client, "page/full/max/0/bitonal.png")
    assert set(got.convert("L").getdata()) <= {0, 255}
    assert got.getpixel((150, 150)) in (0, (0, 0, 0))  # the red block is dark in grey


def test_arbitrary_rotation_returns_the_bounding_box(client):
    got = _get_image(client, "page/0,0,400,300/max/45/default.jpg")
    assert abs(got.width - 495) <= 2 and abs(got.height - 495) <= 2


def _tile_parts(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


@pytest.mark.parametrize("tile, size, level, column, row, height", [
    ("512,0,512,512", "512,512", 0, 1, 0, None),
    ("0,0,1024,1024", "512,512", 1, 0, 0, None),
    ("0,1024,512,76", "512,76", 0, 0, 2, 76),        # bottom edge: frame height cut
])
def test_tile_aligned_request_is_the_stored_tile_unchanged(
        app, client, images, tile, size, level, column, row, height):
    pyramid = open_pyramid(ensure_derivative(images["page"], app.config["KHO_SETTINGS"]))
    fast = client.get(f"/iiif/3/image/page/{tile}/{size}/0/default.jpg")
    assert fast.status_code == 200
    assert fast.data == pyramid.jpeg_tile(level, column, row, height)
    slow = _tile_parts(client.get(f"/iiif/3/image/page/{tile}/{size}/0/default.png").data)
    fast_image = _tile_parts(fast.data)
    assert fast_image.size == slow.size == tuple(int(v) for v in size.split(","))
    assert fast_image.mode == "RGB"
    assert _mean_difference(fast_image, slow) < 3.0


def test_jpeg2000_sixteen_bit_and_alpha_originals_display(client):
    jp2 = _get_image(client, "jp2/full/max/0/default.jpg")
    assert jp2.size == (400, 300)
    assert _mean_difference(jp2, _test_image(400, 300)) < 4.0
    sixteen = _get_image(client, "sixteen/full/max/0/default.png")
    assert sixteen.mode == "RGB" and sixteen.size == (300, 200)
    assert abs(sixteen.getpixel((150, 10))[0] - 30000 / 257) <= 2
    alpha = _get_image(client, "alpha/full/max/0/default.jpg")
    assert alpha.size == (300, 200)
    assert all(abs(a - b) < 8 for a, b in zip(alpha.getpixel((250, 100)), (255, 255, 255)))
    assert all(abs(a - b) < 8 for a, b in zip(alpha.getpixel((50, 100)), (10, 120, 10)))


def test_image_smaller_than_a_tile_displays(client):
    tiny = _get_image(client, "tiny/full/max/0/default.jpg")
    assert tiny.size == (100, 90)
    assert _mean_difference(tiny, _test_image(100, 90)) < 6.0


# --- HTTP: info.json, errors, caching, CORS ---

def test_info_json_describes_the_image_and_its_tiles(client):
    response = client.get("/iiif/3/image/page/info.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == \
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    info = response.get_json(force=True)
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["id"] == "http://localhost/iiif/3/image/page"
    assert (info["type"], info["profile"], info["width"], info["height"]) == \
        ("ImageService3", "level2", 1300, 1100)
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4]}]
    assert {"width": 650, "height": 550} in info["sizes"]


def test_base_uri_redirects_to_info_json(client):
    response = client.get("/iiif/3/image/page")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/iiif/3/image/page/info.json")


@pytest.mark.parametrize("path, status", [
    ("unknown/info.json", 404), ("unknown/full/max/0/default.jpg", 404),
    ("secret/info.json", 403), ("page/full/max/0/default.jp2", 501),
    ("page/2000,0,10,10/max/0/default.jpg", 400), ("page/full/max/0/sepia.jpg", 400),
])
def test_errors_have_their_iiif_status_and_cors(client, path, status):
    response = client.get(f"/iiif/3/image/{path}")
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_revalidation_answers_304_without_a_body(client):
    url = "/iiif/3/image/page/0,0,512,512/512,/0/default.jpg"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"] and first.headers["Last-Modified"]
    assert "max-age" in first.headers["Cache-Control"]
    assert 'rel="canonical"' in first.headers["Link"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    info = client.get("/iiif/3/image/page/info.json")
    assert client.get("/iiif/3/image/page/info.json",
                      headers={"If-None-Match": info.headers["ETag"]}).status_code == 304


def test_derivative_is_built_once_and_atomically(app, images):
    settings = app.config["KHO_SETTINGS"]
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(ensure_derivative(images["page"], settings)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 1
    built = paths[0].stat().st_mtime_ns
    assert ensure_derivative(images["page"], settings).stat().st_mtime_ns == built
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".building-")]


# --- the official IIIF Image API validator against a real server ---

def test_official_validator_passes_every_level_2_test(app):
    run_image_validator(app, VALIDATOR_ID)


def test_response_cache_keeps_recent_answers_within_its_byte_budget():
    from repository.access.image_service import RenderedImage, ResponseCache

    cache = ResponseCache(max_bytes=4000)
    for i in range(10):
        cache.put(("v", str(i)), RenderedImage(b"x" * 900, "image/jpeg", str(i)))
        cache.get(("v", "0"))  # kept fresh by use
    assert cache.get(("v", "0")) is not None and cache.get(("v", "9")) is not None
    assert cache.get(("v", "1")) is None
    assert sum(len(item.body) for item in cache._items.values()) <= 4000
    off = ResponseCache(max_bytes=0)
    off.put(("v", "0"), RenderedImage(b"x", "image/jpeg", "0"))
    assert off.get(("v", "0")) is None


# --- limits on the image actually produced, and bounded decoding (issue 8, item 8) ---

def test_the_limits_hold_for_the_rotated_image_not_only_before_rotation(settings, images):
    with pytest.raises(InvalidImageRequest, match="rotated by 45°"):
        parse_image_request("full", "^4200,", "45", "default.png", 600, 800,
                            Limits(max_area=25_000_000))
    app = create_app(settings.replace(iiif_max_area=1_000_000), upgrade_database=False)
    app.extensions["kho.image_resolver"] = images.__getitem__
    client = app.test_client()
    assert client.get("/iiif/3/image/page/full/^1000,/0/default.png").status_code == 200
    refused = client.get("/iiif/3/image/page/full/^1000,/45/default.png")
    assert refused.status_code == 400 and "limits" in refused.get_data(as_text=True)
    shrunk = _get_image(client, "page/full/max/45/default.png")  # max fits itself to the limits
    assert shrunk.width * shrunk.height <= 1_000_000


def test_no_more_images_are_decoded_at_once_than_the_setting_allows(settings, images,
                                                                    monkeypatch):
    from repository.access import image_service
    real, changed = image_service.render_with_vips, threading.Condition()
    state = {"now": 0, "peak": 0}

    def counted(pyramid, request):  # the real renderer, counting how many run together
        with changed:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            changed.notify_all()
            # Stay in until a third render joins (only possible without the bound) or a
            # while has passed: renders overlap however fast libvips is on this machine.
            changed.wait_for(lambda: state["now"] > 2, timeout=0.3)
        try:
            return real(pyramid, request)
        finally:
            with changed:
                state["now"] -= 1
    monkeypatch.setattr(image_service, "render_with_vips", counted)
    app = create_app(settings.replace(iiif_renderers=2, iiif_cache_bytes=0),
                     upgrade_database=False)
    app.extensions["kho.image_resolver"] = images.__getitem__
    statuses: list[int] = []

    def fetch(n: int) -> None:
        statuses.append(app.test_client().get(
            f"/iiif/3/image/page/full/{600 + n},/{10 + n}/default.png").status_code)
    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses == [200] * 8 and state["peak"] == 2


def test_a_damaged_stored_original_is_a_500_that_says_so_and_no_page_is_made_of_it(app, images,
                                                                                  tmp_path):
    import hashlib
    from repository.access.derivatives import derivative_path
    from repository.access.image_resolver import ImageResolver
    settings = app.config["KHO_SETTINGS"]
    # As the resolver finds a file in local storage: in place, with its recorded sha512.
    stored = settings.local_storage_root / "obj" / "v1" / "content" / "data" / "trang 1.png"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(images["page"].path.read_bytes())
    recorded = hashlib.sha512(stored.read_bytes()).hexdigest()
    source = ImageResolver(settings, catalog=None).source_for(
        "local", "obj/v1/content/data/trang 1.png", recorded, public=True)
    assert source.sha512 == recorded
    damaged = bytearray(stored.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one flipped byte in the stored bytes
    stored.write_bytes(bytes(damaged))
    garbage = tmp_path / "originals" / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not an image at all" * 50)
    images["flipped"] = source
    images["garbage"] = ImageSource(garbage, "digestgarbage0000")

    client = app.test_client()
    for name, words in (("flipped", "does not match"), ("garbage", "cannot be decoded")):
        for path in (f"{name}/info.json", f"{name}/full/max/0/default.jpg"):
            response = client.get(f"/iiif/3/image/{path}")
            assert response.status_code == 500, path
            assert words in response.get_data(as_text=True), response.get_data(as_text=True)
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert not derivative_path(images[name], settings).exists()
    assert "garbage.png" in client.get("/iiif/3/image/garbage/info.json").get_data(as_text=True)
    # The server goes on serving the good pages.
    assert client.get("/iiif/3/image/page/info.json").status_code == 200
