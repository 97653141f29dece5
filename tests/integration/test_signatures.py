"""A predict API with trusted keys serves only signed versions, checking signatures itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import urllib3

from loanapp.dev.stack import LocalStack
from loanapp.signing import generate_key_pair, key_id_of, load_private_key, sign_version
from loanapp.training.train import TrainingResult
from tests.integration.conftest import stack_for, wait_until_every_worker_serves

pytestmark = pytest.mark.integration


@pytest.fixture
def signing_key(tmp_path: Path) -> tuple[Path, Path]:
    """A key pair: the private key signs, the predict API trusts the public one."""
    return generate_key_pair(tmp_path / "keys", "publisher")


@pytest.fixture
def signed_stack(
    tmp_path: Path, signing_key: tuple[Path, Path], logreg: TrainingResult
) -> Iterator[LocalStack]:
    """Both services; production is a signed version; the predict API trusts the signer."""
    stack = stack_for(tmp_path, environment={"LOANAPP_TRUSTED_KEYS": str(signing_key[1])})
    signature = sign_version(logreg.version, load_private_key(signing_key[0]))
    stack.registry().publish(
        logreg.artifact, actor="test", alias="production", signatures=[signature]
    )
    with stack:
        yield stack


def test_only_signed_versions_are_served(
    signed_stack: LocalStack,
    signing_key: tuple[Path, Path],
    logreg: TrainingResult,
    second_logreg: bytes,
) -> None:
    registry = signed_stack.registry()
    key = load_private_key(signing_key[0])
    pool = urllib3.PoolManager(retries=False)
    wait_until_every_worker_serves(signed_stack, logreg.version)
    ready = orjson.loads(pool.request("GET", signed_stack.predict_api_url + "/readyz").data)
    assert ready["signed_by"] == key_id_of(key.public_key())

    # An unsigned version, promoted: every worker refuses it and keeps the signed one.
    second = registry.publish(second_logreg, actor="test", alias="production").version
    refusal = f"version {second} is not signed by a trusted key: it has no signature"
    for _ in range(600):  # at most 30 s
        ready = orjson.loads(pool.request("GET", signed_stack.predict_api_url + "/readyz").data)
        if ready.get("last_error") == refusal:
            break
        time.sleep(0.05)
    assert ready["last_error"] == refusal, ready
    assert ready["version"] == logreg.version

    # Signed afterwards, it is served: the workers retry, and now the signature verifies.
    registry.signatures.add("loan", second, sign_version(second, key))
    wait_until_every_worker_serves(signed_stack, second)
