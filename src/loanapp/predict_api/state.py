"""What the predict API's views share: settings, the model slot, and the watcher that fills it."""

from __future__ import annotations

from dataclasses import dataclass, field

from loanapp.openapi.common import DocumentCache
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.settings import PredictApiSettings


@dataclass(frozen=True)
class PredictApiState:
    """One per worker process; started after the fork, stopped on SIGTERM."""

    settings: PredictApiSettings
    slot: ModelSlot
    watcher: ModelWatcher
    documents: DocumentCache = field(default_factory=DocumentCache)
    """The OpenAPI document of the version served."""

    def start(self) -> None:
        """Follow the model server (the cached version only if it is not reached in time).

        Returns at once: the watcher's thread does the waiting, so a worker boots
        without delay and answers /readyz with 503 until a version is installed.
        """
        self.watcher.start()

    def stop(self) -> None:
        """Stop following the model server; the model in the slot keeps answering."""
        self.watcher.stop()
