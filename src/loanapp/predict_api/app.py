"""The predict API's app factory."""

from __future__ import annotations

from flask import Flask
from threadpoolctl import threadpool_info, threadpool_limits

from loanapp.predict_api.cache import ArtifactCache
from loanapp.predict_api.client import ModelServerClient
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.views import blueprint
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.settings import PredictApiSettings, load_settings
from loanapp.web import install_common_handlers


def create_app(settings: PredictApiSettings | None = None, *, follow: bool = True) -> Flask:
    """Build the app; with `follow`, start the watcher that keeps the model current."""
    settings = settings or load_settings(PredictApiSettings)
    # Every worker is a process of its own: unbounded OpenMP/BLAS pools per worker fight over the
    # same cores and collapse throughput under concurrency, so each gets a fixed, small pool.
    threadpool_limits(limits=settings.model_threads)
    app = Flask(__name__)
    app.extensions["loanapp.math_threads"] = {
        pool["internal_api"]: pool["num_threads"] for pool in threadpool_info()
    }
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    slot = ModelSlot()
    watcher = ModelWatcher(
        name=settings.model_name,
        client=ModelServerClient(settings.model_server_url),
        slot=slot,
        cache=ArtifactCache(settings.cache_dir),
        wait_seconds=settings.wait_seconds,
        retry_max_seconds=settings.retry_max_seconds,
    )
    app.extensions["loanapp.settings"] = settings
    app.extensions["loanapp.slot"] = slot
    app.extensions["loanapp.watcher"] = watcher
    install_common_handlers(app)
    app.register_blueprint(blueprint)
    if follow:
        watcher.start()
    return app
