"""Shipping finished files: uploaded then deleted, kept through an S3 outage, shipped after it."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from loanapp.predlog.files import FINISHED_SUFFIX
from loanapp.predlog.log import PredictionLog
from loanapp.predlog.reading import download_log, read_frame
from loanapp.predlog.shipping import Shipper
from loanapp.store.local import LocalFolderStore
from loanapp.store.s3 import S3Store
from tests.seaweedfs import SeaweedFS


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def log_some(log: PredictionLog, requests: int = 3) -> None:
    for _ in range(requests):
        log.submit("v1", 1, {"x": [1.0, 2.0]}, 2, np.array([[0.8, 0.2], [0.4, 0.6]]), [0, 1])


def spooled(spool: Path) -> list[Path]:
    return sorted(spool.rglob(f"*{FINISHED_SUFFIX}"))


def test_finished_files_are_uploaded_under_their_partition_then_deleted(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "store")
    log = PredictionLog(tmp_path / "spool", "loan", shipper=Shipper(tmp_path / "spool", store))
    log.start()
    log_some(log)
    log.stop()
    (key,) = store.list("model=loan/")
    assert key.startswith("model=loan/date=")
    assert key.endswith(FINISHED_SUFFIX)
    assert len(gzip.decompress(store.get(key).data).splitlines()) == 6
    assert spooled(tmp_path / "spool") == []


@pytest.mark.integration
def test_files_wait_through_an_outage_and_are_shipped_after_it(
    tmp_path: Path, s3_uri: str, seaweedfs: SeaweedFS
) -> None:
    store = S3Store.from_uri(s3_uri)
    shipper = Shipper(tmp_path / "spool", store, first_retry=0.2, last_retry=1.0)
    log = PredictionLog(tmp_path / "spool", "loan", max_seconds=0.2, shipper=shipper)
    log.start()
    try:
        log_some(log)
        wait_for(lambda: len(store.list("model=loan/")) == 1)
        seaweedfs.stop()
        try:
            log_some(log)
            wait_for(lambda: len(spooled(tmp_path / "spool")) == 1)  # finished, kept
            log_some(log)
            wait_for(lambda: len(spooled(tmp_path / "spool")) == 2)
        finally:
            seaweedfs.start()
        wait_for(lambda: spooled(tmp_path / "spool") == [])
    finally:
        log.stop()
    keys = store.list("model=loan/")
    assert len(keys) == 3
    rows = sum(len(gzip.decompress(store.get(key).data).splitlines()) for key in keys)
    assert rows == 18
    frame = read_frame(download_log(store, tmp_path / "downloaded"))  # as `loanapp monitor` reads
    assert len(frame) == 18
    assert set(frame["decision"]) == {"approve", "decline"}
