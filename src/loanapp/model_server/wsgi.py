"""WSGI entry of the model server for gunicorn: `loanapp.model_server.wsgi:app`.

Load it without `--preload`: each worker must start its own catalog poll thread after the fork.
"""

import signal
import threading
from types import FrameType

from loanapp.logs import configure_logging
from loanapp.model_server.app import create_app
from loanapp.model_server.views import CATALOG_KEY
from loanapp.settings import ModelServerSettings, load_settings

settings = load_settings(ModelServerSettings)
configure_logging(settings.log_level)
app = create_app(settings)

# On SIGTERM gunicorn lets in-flight requests finish for --graceful-timeout. Held long-polls would
# hold the worker that long, so wake them first (they answer 304 and clients reconnect elsewhere).
# gunicorn installs its own handler before it loads this module; ours runs first, then chains.
_gunicorn_handler = signal.getsignal(signal.SIGTERM)


def _release_long_polls(signum: int, frame: FrameType | None) -> None:
    threading.Thread(target=app.extensions[CATALOG_KEY].stop, daemon=True).start()
    if callable(_gunicorn_handler):
        _gunicorn_handler(signum, frame)


signal.signal(signal.SIGTERM, _release_long_polls)
