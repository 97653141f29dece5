"""WSGI entry of the predict API: `loanapp.predict_api.wsgi:app`.

Load it without `--preload`: each worker must start its own watcher thread after the fork. On
SIGTERM a worker stops its watcher, finishes the requests in flight and exits.
"""

from loanapp.logs import configure_logging
from loanapp.metrics.exposition import forget_dead_workers_at_start
from loanapp.predict_api.app import create_app
from loanapp.predict_api.state import PredictApiState
from loanapp.settings import PredictApiSettings, load_settings
from loanapp.shutdown import stop_on_sigterm
from loanapp.web import get_state

settings = load_settings(PredictApiSettings)
configure_logging(settings.log_level, settings.log_format, "predict-api")
forget_dead_workers_at_start()  # the live gauges of a worker this one may replace
app = create_app(settings)
stop_on_sigterm(get_state(app, PredictApiState).stop)
