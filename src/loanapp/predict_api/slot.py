"""The model slot: the one model a worker serves now, swapped by a single reference assignment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from loanapp.errors import ModelNotReadyError
from loanapp.predict_api.serving_model import ServingModel


class ModelSlot:
    """Holds the serving model. Readers take `current` once per request and keep that object, so a
    request finishes on the model it started with while the watcher swaps in the next one.

    For `first_load_wait` seconds after it is made, a request that finds no model yet waits for
    the first one: a service is ready when one worker is, and a request that reaches another
    worker still busy with its first download is answered instead of refused. Past that, no
    model means an immediate ModelNotReadyError.
    """

    def __init__(
        self, first_load_wait: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._current: ServingModel | None = None
        self._loaded = threading.Event()
        self._clock = clock
        self._waits_until = clock() + first_load_wait
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {
            "last_error": None,
            "last_error_at": None,
            "model_server_reached": False,
        }

    @property
    def current(self) -> ServingModel | None:
        """The model serving now, or None before the first load."""
        return self._current

    def require(self) -> ServingModel:
        """The model serving now; ModelNotReadyError if none is loaded (after the first wait)."""
        current = self._current
        if current is None:
            remaining = self._waits_until - self._clock()
            if remaining > 0 and self._loaded.wait(remaining):
                current = self._current
        if current is None:
            raise ModelNotReadyError(self._status["last_error"] or "waiting for the model server")
        return current

    def swap(self, model: ServingModel) -> ServingModel | None:
        """Make `model` current (one assignment) and return the one it replaced."""
        with self._lock:
            previous, self._current = self._current, model
            self._status.update(last_error=None, last_error_at=None)
        self._loaded.set()
        return previous

    def record_failure(self, message: str) -> None:
        """Remember why the last update failed; shown in /readyz until an update succeeds."""
        with self._lock:
            self._status.update(last_error=message, last_error_at=datetime.now(UTC).isoformat())

    def clear_failure(self) -> None:
        """Forget the last failure: the model server was asked and names the version served."""
        with self._lock:
            self._status.update(last_error=None, last_error_at=None)

    def record_model_server_reached(self) -> None:
        """The model server answered since this worker started; /readyz says so from now on."""
        with self._lock:
            self._status["model_server_reached"] = True

    def status(self) -> dict[str, Any]:
        """What /readyz reports about this worker's model and its updates.

        The version served, since when, from where and by which predictor; the last failed
        update; whether the model server has answered since start (if not, a version served
        came from the local cache).
        """
        with self._lock:
            current = self._current
            detail = dict(self._status)
        if current is not None:
            detail.update(
                version=current.version,
                loaded_at=current.loaded_at.isoformat(),
                source=current.source,
                predictor=current.predictor_kind,
                signed_by=current.signed_by,
            )
        return detail
