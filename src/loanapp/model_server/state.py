"""What the model server's views share: settings, catalog, long-poll slots, the fleet view."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from loanapp.model_server.catalog import ModelCatalog
from loanapp.model_server.fleet import Fleet
from loanapp.openapi.common import DocumentCache
from loanapp.settings import ModelServerSettings


@dataclass(frozen=True)
class ModelServerState:
    """One per worker process; started after the fork, stopped on SIGTERM."""

    settings: ModelServerSettings
    catalog: ModelCatalog
    long_polls: threading.BoundedSemaphore
    """Per process: each worker holds at most this many long-polls, whatever its threads."""
    documents: DocumentCache = field(default_factory=DocumentCache)
    """The OpenAPI document, whose examples name the current version."""
    fleet: Fleet = field(default_factory=Fleet)
    """The predict-API workers whose long-polls reached this worker."""

    def start(self) -> None:
        """Start following the store."""
        self.catalog.start()

    def stop(self) -> None:
        """Stop following the store and wake every held long-poll (they answer 'not changed')."""
        self.catalog.stop()
