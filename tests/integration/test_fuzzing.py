"""schemathesis against both services' OpenAPI documents, on real `loanapp serve` processes.

Every operation gets the documented examples, schemathesis' coverage cases and a bounded number
of generated ones (deterministic generation: the same cases on every run): no 5xx, every
response conforms to the document (status, content type, headers, body), data that breaks the
document is refused with a 4xx, and admin routes answer 401 without the token. Each run has a
throwaway store, so what fuzzing publishes or promotes stays in this test. The services must
still be healthy and ready afterwards.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from loanapp.dev.stack import LocalStack
from loanapp.training.train import TrainingResult
from tests.integration.conftest import ADMIN_TOKEN, publish_versions, stack_for

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 12  # generated cases per operation, on top of examples and coverage cases
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "unsupported_method",
        "ignored_auth",
    ]
)
# What refusing data that breaks the document may answer: 413 included (a batch over the limit).
CONFIG = Path(__file__).with_name("schemathesis.toml")
# A held long-poll answers after the server's limit: kept short, so a fuzzed If-None-Match that
# matches (the example, or "*") costs a second, not half a minute.
ENVIRONMENT = {"LOANAPP_MAX_WAIT_SECONDS": "1"}


@pytest.fixture
def stack(tmp_path: Path, logreg: TrainingResult, gbm: TrainingResult) -> Iterator[LocalStack]:
    started = stack_for(tmp_path, environment=ENVIRONMENT)
    versions = publish_versions(started.registry(), tmp_path, logreg, gbm)
    with started:
        started.wait_for_every_worker(serving=versions.first)
        yield started


def fuzz(base_url: str, work_dir: Path, *headers: str) -> subprocess.CompletedProcess[str]:
    """schemathesis' command line against the service's /openapi.json, run in `work_dir`: its
    cache of past crashes, which it would replay, stays out of the repository and of later runs."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        f"--config-file={CONFIG}",
        "run",
        f"{base_url}/openapi.json",
        f"--checks={CHECKS}",
        "--phases=examples,coverage,fuzzing",
        f"--max-examples={MAX_EXAMPLES}",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--no-color",
        *[argument for header in headers for argument in ("-H", header)],
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=work_dir
    )


def assert_healthy(base_url: str) -> None:
    for path in ("/healthz", "/readyz"):
        response = requests.get(base_url + path, timeout=10)
        assert response.status_code == 200, (path, response.text)


def test_predict_api_conforms_to_its_document(stack: LocalStack, tmp_path: Path) -> None:
    result = fuzz(stack.predict_api_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_healthy(stack.predict_api_url)


def test_model_server_conforms_to_its_document(stack: LocalStack, tmp_path: Path) -> None:
    token = f"Authorization: Bearer {ADMIN_TOKEN}"
    result = fuzz(stack.model_server_url, tmp_path, token)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_healthy(stack.model_server_url)
    assert_healthy(stack.predict_api_url)
