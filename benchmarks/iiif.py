"""IIIF tile serving: Kho's Image service against IIPImage, on the same pyramid and request mix.

Builds a 10,000×8,000 JPEG-compressed pyramidal TIFF, serves it with Kho (gunicorn, threaded
workers) and with IIPImage (iipsrv as FastCGI behind lighttpd), both on loopback, and drives
each with ``wrk -t1 -c4 -d10s`` over the same seeded list of 512×512 tile requests at scale
factors 1, 2, 4 and 8, with caches off and on. Prints tiles/s, Kho ÷ IIPImage and Kho's peak RSS.

    .venv/bin/python benchmarks/iiif.py [--duration 10] [--keep DIR]

Needs Debian's iipimage-server, lighttpd and wrk. Takes about a minute.

    .venv/bin/python benchmarks/iiif.py manifest [--pages 1000]

measures warm IIIF manifest requests/s for a 1,000-page AIP instead (see the section at the end).
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 10_000, 8_000
TILE = 512
SCALE_FACTORS = (1, 2, 4, 8)
IMAGE_ID = "benchmark-page"
IIPSRV = "/usr/lib/iipimage-server/iipsrv.fcgi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def build_test_pyramid(target: Path) -> None:
    """A page-like 10,000×8,000 image (gradients, fine texture) as Kho's derivative format."""
    import pyvips

    from repository.access.derivatives import JPEG_QUALITY

    xyz = pyvips.Image.xyz(WIDTH, HEIGHT)
    x, y = xyz[0], xyz[1]
    texture = pyvips.Image.gaussnoise(WIDTH, HEIGHT, sigma=6, mean=0)
    paper = 235 - (x / WIDTH) * 30 - (y / HEIGHT) * 20 + texture
    ink = ((x / 37).sin() * (y / 23).cos() > 0.6).ifthenelse(-150, 0)
    image = (paper + ink).bandjoin([paper * 0.95 + ink, paper * 0.85 + ink])
    image = image.cast("uchar").copy(interpretation="srgb")
    image.tiffsave(str(target), tile=True, pyramid=True, compression="jpeg", Q=JPEG_QUALITY,
                   tile_width=TILE, tile_height=TILE)


def tile_paths(count: int, seed: int = 20261125) -> list[str]:
    """Seeded IIIF tile requests ``x,y,w,h/w,h/0/default.jpg`` as a viewer makes them."""
    rng = random.Random(seed)
    paths = []
    for _ in range(count):
        sf = rng.choice(SCALE_FACTORS)
        span = TILE * sf
        col = rng.randrange(math.ceil(WIDTH / span))
        row = rng.randrange(math.ceil(HEIGHT / span))
        x, y = col * span, row * span
        w, h = min(span, WIDTH - x), min(span, HEIGHT - y)
        paths.append(f"{x},{y},{w},{h}/{math.ceil(w / sf)},{math.ceil(h / sf)}/0/default.jpg")
    return paths


def write_wrk_script(path: Path, prefix: str, paths: list[str]) -> None:
    lines = ",\n".join(f'  "{prefix}{p}"' for p in paths)
    path.write_text(
        f"local paths = {{\n{lines}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n", encoding="utf-8")


def run_wrk(url: str, script: Path, duration: int) -> tuple[float, str]:
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{duration}s", "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, (f"{errors.group(1)} non-2xx" if errors else "")


def process_tree(pid: int) -> list[int]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                              capture_output=True, text=True).stdout.split()
    return [pid] + [p for c in children for p in process_tree(int(c))]


def peak_rss_mb(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except FileNotFoundError:
            continue
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_kho(work: Path, tif: Path, port: int, cache_bytes: int) -> subprocess.Popen:
    env = dict(os.environ, KHO_DATA_DIR=str(work / "kho-data"), KHO_BENCH_TIFF=str(tif),
               KHO_IIIF_CACHE_BYTES=str(cache_bytes), PYTHONPATH=str(ROOT))
    # 2 cores: two processes (the GIL) with a few threads each to overlap I/O and libvips.
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-k", "gthread", "-w", "2",
           "--threads", "4", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
           "--chdir", str(ROOT / "benchmarks"), "iiif:kho_app()"]
    return subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=open(work / "kho.log", "ab"), stderr=subprocess.STDOUT)


def kho_app():
    """The WSGI app gunicorn runs: Kho with a resolver that knows the one benchmark image."""
    from repository.access import ImageSource
    from repository.access.derivatives import derivative_path
    from repository.config import load_settings
    from repository.errors import NotFound
    from repository.web import create_app

    settings = load_settings()
    source = ImageSource(Path(os.environ["KHO_BENCH_TIFF"]), "benchmark0000pyramid")
    stored = derivative_path(source, settings)
    stored.parent.mkdir(parents=True, exist_ok=True)
    try:  # serve the very same file IIPImage serves
        os.link(source.path, stored)
    except FileExistsError:
        pass
    app = create_app(settings, upgrade_database=False)  # the catalogue is not used here

    def resolve(image_id: str) -> ImageSource:
        if image_id != IMAGE_ID:
            raise NotFound(image_id)
        return source

    app.extensions["kho.image_resolver"] = resolve
    return app


def start_iipimage(work: Path, port: int, cache_mb: int | None) -> subprocess.Popen:
    conf = work / f"lighttpd-{port}.conf"
    cache = "" if cache_mb is None else f'"MAX_IMAGE_CACHE_SIZE" => "{cache_mb}", '
    conf.write_text(f"""
server.modules = ("mod_fastcgi")
server.document-root = "{work}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{work}/lighttpd-error.log"
server.max-keep-alive-requests = 100000
fastcgi.server = ( "/fcgi-bin/iipsrv.fcgi" => ((
  "socket" => "{work}/iipsrv-{port}.sock",
  "check-local" => "disable",
  "min-procs" => 2, "max-procs" => 2,
  "bin-path" => "{IIPSRV}",
  "bin-environment" => ( {cache}"LOGFILE" => "{work}/iipsrv.log", "VERBOSITY" => "0",
                         "JPEG_QUALITY" => "85", "IIIF_VERSION" => "3", "MAX_CVT" => "5000" )
)) )
""", encoding="utf-8")
    return subprocess.Popen(["lighttpd", "-D", "-f", str(conf)], start_new_session=True,
                            stdout=open(work / "lighttpd.log", "ab"), stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temp dir)")
    args = parser.parse_args()
    for tool in ("wrk", "lighttpd", IIPSRV):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install wrk lighttpd iipimage-server")
    work = args.keep or Path(tempfile.mkdtemp(prefix="kho-iiif-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tif = work / "page.tif"
    if not tif.exists():
        t = time.monotonic()
        build_test_pyramid(tif)
        print(f"built {WIDTH}×{HEIGHT} pyramid: {tif.stat().st_size / 2**20:.0f} MiB "
              f"in {time.monotonic() - t:.1f}s")
    paths = tile_paths(1000)
    kho_script, iip_script = work / "kho.lua", work / "iip.lua"
    write_wrk_script(kho_script, f"/iiif/3/image/{IMAGE_ID}/", paths)
    write_wrk_script(iip_script, f"/fcgi-bin/iipsrv.fcgi?IIIF={tif}/", paths)

    results: dict[tuple[str, str], float] = {}
    rss = {}
    for cache in ("off", "on"):
        port = free_port()
        kho = start_kho(work, tif, port, 0 if cache == "off" else 256 * 2**20)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/iiif/3/image/{IMAGE_ID}/info.json")
            run_wrk(base, kho_script, 2)  # warm-up: page cache, pyramid index, LRU
            rate, note = run_wrk(base, kho_script, args.duration)
            results[("Kho", cache)] = rate
            rss[cache] = peak_rss_mb(kho.pid)
            print(f"Kho       cache {cache:3}: {rate:8.0f} tiles/s {note}", flush=True)
        finally:
            stop(kho)
        port = free_port()
        iip = start_iipimage(work, port, 0 if cache == "off" else None)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/fcgi-bin/iipsrv.fcgi?IIIF={tif}/info.json")
            run_wrk(base, iip_script, 2)
            rate, note = run_wrk(base, iip_script, args.duration)
            results[("IIPImage", cache)] = rate
            print(f"IIPImage  cache {cache:3}: {rate:8.0f} tiles/s {note}", flush=True)
        finally:
            stop(iip)
    print()
    for cache in ("off", "on"):
        ratio = results[("Kho", cache)] / results[("IIPImage", cache)]
        print(f"cache {cache:3}: Kho {results[('Kho', cache)]:.0f} / IIPImage "
              f"{results[('IIPImage', cache)]:.0f} tiles/s = {ratio:.2f}x")
    print(f"Kho server peak RSS (gunicorn master + workers): cache off {rss['off']:.0f} MiB, "
          f"cache on {rss['on']:.0f} MiB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


# --- Presentation API: warm manifest requests/s for a 1,000-page AIP (access room) ---------
#     .venv/bin/python benchmarks/iiif.py manifest [--pages 1000] [--seconds 5]
# The AIP is registered straight in a fresh SQLite catalogue (the manifest reads only the
# catalogue), then served in process through Flask's test client: the figure is Kho's own
# cost per request (catalogue lookup + access check + cached body), without a network.

def register_book(settings, pages: int) -> str:
    """A catalogue entry for a ``pages``-page book with 2,480×3,508 page images (A4, 300 dpi)."""
    import hashlib
    import uuid

    from repository.catalog import (Aip, AipFile, AipVersion, DublinCoreRecord,
                                    get_or_create_collection, open_catalog)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    identifier = str(uuid.uuid4())
    record = {"title": [{"value": "Đại Nam nhất thống chí", "lang": "vi"}],
              "type": [{"value": "Text"}]}
    with catalog.session() as session:
        aip = Aip(identifier=identifier, ocfl_id=f"urn:uuid:{identifier}", location="local",
                  object_root=f"bench/{identifier}", payload_digest="bench",
                  collection=get_or_create_collection(session, "Benchmark"))
        aip.versions.append(AipVersion(number=1))
        aip.dublin_core = DublinCoreRecord(record=record, title="Đại Nam nhất thống chí")
        for n in range(1, pages + 1):
            sha = hashlib.sha512(f"{identifier}/{n}".encode()).hexdigest()
            aip.files.append(AipFile(version=1, logical_path=f"data/trang {n}.tif",
                                     content_path=f"v1/content/data/trang {n}.tif", size=1,
                                     sha512=sha, mime_type="image/tiff", width=2480,
                                     height=3508, role="payload"))
        session.add(aip)
    catalog.dispose()
    return identifier


def manifest_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="warm IIIF manifest requests/s")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    from repository.config import load_settings
    from repository.web import create_app
    work = Path(tempfile.mkdtemp(prefix="kho-manifest-bench-"))
    try:
        settings = load_settings({}, data_dir=work / "kho-data",
                                 storage_config_dir=work / "storage_config")
        identifier = register_book(settings, args.pages)
        app = create_app(settings)
        client = app.test_client()
        url = f"/iiif/3/{identifier}/manifest"
        t = time.perf_counter()
        first = client.get(url)
        cold = time.perf_counter() - t
        assert first.status_code == 200, first.get_data(as_text=True)[:500]
        etag = first.headers["ETag"]
        print(f"{args.pages}-page manifest: {len(first.data) / 1024:.0f} KiB, "
              f"cold build {cold * 1000:.0f} ms")
        for label, headers, status in (("warm 200", {}, 200),
                                       ("warm 304", {"If-None-Match": etag}, 304)):
            count, deadline = 0, time.perf_counter() + args.seconds
            start = time.perf_counter()
            while time.perf_counter() < deadline:
                assert client.get(url, headers=headers).status_code == status
                count += 1
            rate = count / (time.perf_counter() - start)
            print(f"{label}: {rate:8.0f} requests/s (one thread, in process)")
        app.extensions["kho"].catalog.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["manifest"]:  # (access room) the Presentation API section above
        manifest_main(sys.argv[2:])
    else:
        main()
