"""Making artifact bytes servable: the compiled form is held to the same checks as scikit-learn."""

from __future__ import annotations

import pytest
import sklearn

from loanapp.artifacts import compute_version, read_metadata
from loanapp.errors import IncompatibleArtifactError
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.training.train import TrainingResult
from tests.factories import with_other_scikit_learn


@pytest.mark.parametrize(("result_name", "kind"), [("logreg", "linear"), ("gbm", "trees")])
def test_a_compiled_artifact_of_another_scikit_learn_is_refused(
    result_name: str, kind: str, request: pytest.FixtureRequest
) -> None:
    result: TrainingResult = request.getfixturevalue(result_name)
    artifact = with_other_scikit_learn(result.artifact, "0.24.2")
    version = compute_version(artifact)
    # The compiled form is still there and would reproduce the reference rows: only the
    # recorded scikit-learn version is wrong.
    assert read_metadata(artifact, version).compiled == kind
    with pytest.raises(IncompatibleArtifactError) as caught:
        load_serving_model(artifact, version, "test")
    assert caught.value.message.startswith(
        f"artifact was trained with scikit-learn 0.24.2 but scikit-learn {sklearn.__version__} "
        "is installed"
    )
