"""WSGI entry of the model server: `loanapp.model_server.wsgi:app`.

Load it without `--preload`: each worker must start its own catalog poll thread after the fork.
On SIGTERM a worker wakes its held long-polls first (they answer 304 and clients reconnect
elsewhere), so they do not hold it for the whole graceful timeout.
"""

from loanapp.logs import configure_logging
from loanapp.metrics.exposition import forget_dead_workers_at_start
from loanapp.model_server.app import create_app
from loanapp.model_server.state import ModelServerState
from loanapp.settings import ModelServerSettings, load_settings
from loanapp.shutdown import stop_on_sigterm
from loanapp.web import get_state

settings = load_settings(ModelServerSettings)
configure_logging(settings.log_level, settings.log_format, "model-server")
forget_dead_workers_at_start()  # the live gauges of a worker this one may replace
app = create_app(settings)
stop_on_sigterm(get_state(app, ModelServerState).stop)
