"""A real S3 server for tests: moto's, in this process (a thread) on a free port of 127.0.0.1,
with a bucket client and the environment an operator sets (README, "Photos in a bucket (S3)").
Worker or web processes that a test starts reach it over TCP with `environment(...)`."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import boto3

KEY_ID, SECRET = "coloria-test", "coloria-test-secret"  # moto accepts any key
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_s3_server() -> Iterator[str]:
    """Run moto's S3 server; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request else
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def environment(endpoint: str, bucket: str, prefix: str = "") -> dict[str, str]:
    """The COLORIA_S3_* variables that point Coloria at this bucket."""
    return {
        "COLORIA_S3_BUCKET": bucket,
        "COLORIA_S3_ENDPOINT_URL": endpoint,
        "COLORIA_S3_REGION": REGION,
        "COLORIA_S3_ACCESS_KEY_ID": KEY_ID,
        "COLORIA_S3_SECRET_ACCESS_KEY": SECRET,
        "COLORIA_S3_PREFIX": prefix,
    }


class Bucket:
    """A new bucket on the server, and what tests ask of it."""

    def __init__(self, endpoint: str, name: str, prefix: str = "") -> None:
        self.name, self.prefix = name, prefix.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
        )  # fmt: skip
        self.client.create_bucket(Bucket=name)

    def key(self, name: str) -> str:
        """The object key of a stored file's name (its FieldFile's `.name`)."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def object_keys(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=self.key(name))["Body"].read()
