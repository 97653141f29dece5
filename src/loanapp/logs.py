"""Log set-up of the services: one line per event, on stderr (granian writes its own to stdout)."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Configure the root logger once per process."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
