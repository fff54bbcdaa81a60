"""The S3 upload peer of benchmarks/ingest.py and benchmarks/replicate.py, as one whole
process like the `kho` command it is compared with (interpreter and boto3 start-up
included): boto3's own managed ``upload_file`` of every file under a folder, N at a time,
each under its path relative to the folder.

    BENCH_S3_KEY=… BENCH_S3_SECRET=… .venv/bin/python benchmarks/s3_upload.py \\
        --endpoint http://127.0.0.1:8333 --bucket b FOLDER [--threads 4] [--skip extensions/]
"""
from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--skip", action="append", default=[],
                        help="leave out files whose relative path starts with this")
    args = parser.parse_args()
    import boto3
    from botocore.config import Config
    client = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id=os.environ["BENCH_S3_KEY"],
        aws_secret_access_key=os.environ["BENCH_S3_SECRET"],
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=args.threads + 2))
    files = [(str(p), p.relative_to(args.folder).as_posix())
             for p in sorted(args.folder.rglob("*")) if p.is_file()]
    files = [(path, key) for path, key in files
             if not any(key.startswith(prefix) for prefix in args.skip)]

    def upload(item: tuple[str, str]) -> None:
        client.upload_file(item[0], args.bucket, item[1])

    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(upload, files))
    print(f"{len(files)} files uploaded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
