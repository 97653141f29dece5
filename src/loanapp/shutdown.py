"""A worker's graceful stop: on SIGTERM, stop the service's background thread, then let the WSGI
server finish the requests in flight and exit, as it does by itself."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def stop_on_sigterm(stop: Callable[[], None]) -> None:
    """Run `stop` when this process gets SIGTERM, then the WSGI server's own handler.

    granian sets its SIGTERM handler in each worker after it has loaded the app, and that would
    replace one set now. So ours is set now, in front of whatever is there, and the next SIGTERM
    handler anyone sets (the server's) is put behind ours too, once: until then `signal.signal`
    is wrapped. `stop` runs on a thread of its own: a signal handler must return promptly, and
    the server's handler has to run for in-flight requests to be finished and the worker to exit.
    """
    set_handler = signal.signal

    def ours_then(then: SignalHandler) -> Callable[[int, FrameType | None], None]:
        def _on_sigterm(signum: int, frame: FrameType | None) -> None:
            logger.info("SIGTERM: stopping, finishing requests in flight")
            threading.Thread(target=stop, name="loanapp-stop", daemon=True).start()
            if callable(then):
                then(signum, frame)

        return _on_sigterm

    def set_behind_ours(signalnum: int | signal.Signals, handler: SignalHandler) -> SignalHandler:
        if signalnum != signal.SIGTERM:
            return set_handler(signalnum, handler)
        signal.signal = set_handler  # the server's handler is in place: stop wrapping
        return set_handler(signalnum, ours_then(handler))

    set_handler(signal.SIGTERM, ours_then(signal.getsignal(signal.SIGTERM)))
    signal.signal = set_behind_ours
