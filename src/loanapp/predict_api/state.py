"""What the predict API's views share: settings, the model slot, and the watcher that fills it."""

from __future__ import annotations

from dataclasses import dataclass, field

from loanapp.openapi.common import DocumentCache
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.predlog.log import PredictionLog
from loanapp.settings import PredictApiSettings


@dataclass(frozen=True)
class PredictApiState:
    """One per worker process; started after the fork, stopped on SIGTERM."""

    settings: PredictApiSettings
    slot: ModelSlot
    watcher: ModelWatcher
    documents: DocumentCache = field(default_factory=DocumentCache)
    """The OpenAPI document of the version served."""
    prediction_log: PredictionLog | None = None
    """Where this worker records its decisions; None when LOANAPP_PREDICTION_LOG is off."""

    def start(self) -> None:
        """Follow the model server (the cached version only if it is not reached in time).

        Returns at once: the watcher's thread does the waiting, so a worker boots
        without delay and answers /readyz with 503 until a version is installed.
        """
        self.watcher.start()
        if self.prediction_log is not None:
            self.prediction_log.start()

    def stop(self) -> None:
        """Stop following the model server; the model in the slot keeps answering.

        The prediction log is not stopped here: requests in flight still log their rows, and
        its thread writes them, finishes its file and ends once the worker's main thread has.
        """
        self.watcher.stop()
