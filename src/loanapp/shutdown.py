"""A worker's graceful stop: on SIGTERM, stop the service's background thread, then let the WSGI
server finish the requests in flight and exit, as it does by itself."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger(__name__)


def stop_on_sigterm(stop: Callable[[], None]) -> None:
    """Run `stop` when this process gets SIGTERM, then the handler that was there before.

    The WSGI server installs its handler before it loads the app, so ours runs first and then
    chains to it. `stop` runs on a thread of its own: a signal handler must return promptly, and
    the server's handler has to run for in-flight requests to be finished and the worker to exit.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        logger.info("SIGTERM: stopping, finishing requests in flight")
        threading.Thread(target=stop, name="loanapp-stop", daemon=True).start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, _on_sigterm)
