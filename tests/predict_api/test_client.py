"""The model-server client bounds a starting worker's question by the time the worker has left."""

from __future__ import annotations

import re
import socket

import pytest

from loanapp.errors import UpstreamUnavailableError
from loanapp.predict_api.client import LONG_POLL_GRACE_SECONDS, ModelServerClient


def test_a_bounded_question_gives_up_at_its_bound_not_at_the_read_timeout() -> None:
    # The kernel accepts connections on a listening socket that nobody serves: the question
    # connects, then waits for an answer that never comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = ModelServerClient(f"http://127.0.0.1:{listener.getsockname()[1]}")
        with pytest.raises(UpstreamUnavailableError, match="Read timed out") as caught:
            client.current_version("loan", timeout=0.2)
    # urllib3 names the read timeout it applied: what the bound left, not the usual grace.
    applied = re.search(r"\(read timeout=([0-9.]+)\)", caught.value.message)
    assert applied is not None, caught.value.message
    assert float(applied.group(1)) <= 0.2 < LONG_POLL_GRACE_SECONDS
