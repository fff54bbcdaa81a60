"""The S3 peer and floor for benchmarks/fixity.py, as one whole process like `kho fixity run`.

Plain: a boto3 client downloading every object of a bucket (but Kho's storage-root
extensions) with N threads, reading each body to its end. With ``--hash``: the same, each
body also hashed (the least a fixity check on S3 can do: fetch and hash every byte once).

    BENCH_S3_KEY=… BENCH_S3_SECRET=… .venv/bin/python benchmarks/s3_download.py \\
        --endpoint http://127.0.0.1:8333 --bucket b [--threads 8] [--hash sha512]
"""
from __future__ import annotations

import argparse
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

READ = 4 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--hash", default="", help="also hash every body (e.g. sha512)")
    args = parser.parse_args()
    import boto3
    from botocore.config import Config
    client = boto3.client(
        "s3", endpoint_url=args.endpoint, region_name="us-east-1",
        aws_access_key_id=os.environ["BENCH_S3_KEY"],
        aws_secret_access_key=os.environ["BENCH_S3_SECRET"],
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=args.threads))
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=args.bucket) for o in page.get("Contents", ())
        if not o["Key"].startswith("extensions/")]

    def fetch(key: str) -> int:
        digest = hashlib.new(args.hash) if args.hash else None
        body = client.get_object(Bucket=args.bucket, Key=key)["Body"]
        size = 0
        while chunk := body.read(READ):
            size += len(chunk)
            if digest:
                digest.update(chunk)
        return size

    with ThreadPoolExecutor(args.threads) as pool:
        total = sum(pool.map(fetch, keys))
    print(f"{len(keys)} objects, {total} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
