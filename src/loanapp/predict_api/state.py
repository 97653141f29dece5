"""What the predict API's views share: settings, the model slot, and the watcher that fills it."""

from __future__ import annotations

from dataclasses import dataclass

from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.settings import PredictApiSettings


@dataclass(frozen=True)
class PredictApiState:
    """One per worker process; started after the fork, stopped on SIGTERM."""

    settings: PredictApiSettings
    slot: ModelSlot
    watcher: ModelWatcher

    def start(self) -> None:
        """Serve the cached version at once if there is one, then follow the model server."""
        self.watcher.start()

    def stop(self) -> None:
        """Stop following the model server; the model in the slot keeps answering."""
        self.watcher.stop()
