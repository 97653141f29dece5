"""The Open Inference Protocol on the real service, spoken by a client nobody here wrote:
Triton's `tritonclient.http`, sending a pandas DataFrame one tensor per column."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from loanapp.dev.stack import LocalStack
from loanapp.dev.traffic import sample_rows
from tests.integration.conftest import Versions, wait_until_every_worker_serves

pytestmark = pytest.mark.integration

MODEL = "loan"
DATATYPES = {"f": "FP64", "i": "INT64"}  # numpy dtype kinds; any other column is text


def inputs_of(frame: pd.DataFrame) -> list[triton.InferInput]:
    """One InferInput per column, shape [N, 1], data sent as JSON (not Triton's binary form)."""
    found = []
    for name in frame.columns:
        datatype = DATATYPES.get(frame[name].dtype.kind, "BYTES")
        column = frame[[name]].to_numpy(dtype=object if datatype == "BYTES" else None)
        tensor = triton.InferInput(name, list(column.shape), datatype)
        tensor.set_data_from_numpy(column, binary_data=False)
        found.append(tensor)
    return found


@pytest.fixture
def client(stack: LocalStack, versions: Versions) -> Iterator[triton.InferenceServerClient]:
    wait_until_every_worker_serves(stack, versions.first)
    client = triton.InferenceServerClient(url=urlparse(stack.predict_api_url).netloc)
    yield client
    client.close()


def test_tritonclient_reads_health_and_metadata(
    client: triton.InferenceServerClient, versions: Versions
) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, model_version=versions.first)
    assert not client.is_model_ready("other")
    assert client.get_server_metadata()["name"] == "loanapp-predict-api"
    metadata = client.get_model_metadata(MODEL)
    assert metadata["versions"] == [versions.first]
    assert {tensor["name"] for tensor in metadata["inputs"]} == set(sample_rows(1)[0])


def test_tritonclient_gets_the_probabilities_predict_gives(
    client: triton.InferenceServerClient, stack: LocalStack, versions: Versions
) -> None:
    rows = sample_rows(25)
    expected = requests.post(stack.predict_api_url + "/predict/batch", json=rows, timeout=30).json()
    frame = pd.DataFrame(rows)
    asked = [triton.InferRequestedOutput(name, binary_data=False) for name in ("predict_proba",)]
    for outputs in (asked, None):  # None: the client asks for every output, in binary if it can
        result = client.infer(MODEL, inputs_of(frame), outputs=outputs, request_id="r1")
        response = result.get_response()
        assert (response["model_version"], response["id"]) == (versions.first, "r1")
        probabilities = result.as_numpy("predict_proba")
        assert probabilities is not None
        np.testing.assert_array_equal(probabilities, np.array(expected["predict_proba"]))
    every = client.infer(MODEL, inputs_of(frame), model_version=versions.first)
    np.testing.assert_array_equal(every.as_numpy("prediction"), expected["predictions"])


def test_tritonclient_sees_the_protocols_errors(
    client: triton.InferenceServerClient, versions: Versions
) -> None:
    frame = pd.DataFrame(sample_rows(3))
    frame.loc[1, "term"] = "term_99"
    with pytest.raises(InferenceServerException, match="row 1, field term") as invalid:
        client.infer(MODEL, inputs_of(frame))
    assert invalid.value.status() == "400"
    with pytest.raises(InferenceServerException, match="is not served here") as other:
        client.infer(MODEL, inputs_of(frame), model_version=versions.second)
    assert other.value.status() == "404"
