"""The two blob store backends every media suite runs against: a local directory and S3 —
the latter through the `minio` SDK against a real S3-protocol HTTP server (moto's server
mode in a thread of this process), never a mock object."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.blobstore import BlobStore, LocalBlobStore, S3BlobStore


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_server: str
) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "media")
        return
    bucket = f"quark-test-{secrets.token_hex(4)}"
    yield await S3BlobStore.open(
        s3_server, "test-access", "test-secret", bucket, secure=False, region="us-east-1"
    )
