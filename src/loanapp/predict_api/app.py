"""The predict API's app factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from threadpoolctl import threadpool_limits

from loanapp.openapi.page import docs_blueprint
from loanapp.predict_api.cache import ArtifactCache
from loanapp.predict_api.client import ModelServerClient
from loanapp.predict_api.slot import ModelSlot
from loanapp.predict_api.state import PredictApiState
from loanapp.predict_api.trust import TrustPolicy
from loanapp.predict_api.v2 import blueprint as open_inference
from loanapp.predict_api.views import blueprint
from loanapp.predict_api.watcher import ModelWatcher
from loanapp.predlog.log import PredictionLog
from loanapp.predlog.shipping import Shipper
from loanapp.settings import PREDICTION_LOG_OFF, PredictApiSettings, load_settings
from loanapp.web import install_common_handlers, install_state


def create_app(settings: PredictApiSettings | None = None, *, follow: bool = True) -> Flask:
    """Build the app; with `follow`, start the watcher that keeps the model current."""
    settings = settings or load_settings(PredictApiSettings)
    limit_math_threads(settings.model_threads)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    slot = ModelSlot(first_load_wait=settings.startup_wait_seconds)
    watcher = ModelWatcher(
        name=settings.model_name,
        client=ModelServerClient(settings.model_server_url),
        slot=slot,
        cache=ArtifactCache(settings.cache_dir, settings.model_server_url),
        wait_seconds=settings.wait_seconds,
        retry_max_seconds=settings.retry_max_seconds,
        startup_wait_seconds=settings.startup_wait_seconds,
        trust=TrustPolicy.from_files(settings.trusted_key_files),
    )
    state = PredictApiState(settings, slot, watcher, prediction_log=open_prediction_log(settings))
    install_state(app, state)
    install_common_handlers(app, "predict-api")
    app.register_blueprint(blueprint)
    app.register_blueprint(open_inference)
    app.register_blueprint(docs_blueprint("loanapp predict API"))
    if follow:
        state.start()
    return app


def open_prediction_log(settings: PredictApiSettings) -> PredictionLog | None:
    """This worker's prediction log as LOANAPP_PREDICTION_LOG says (not started); None if off."""
    target = settings.prediction_log.strip()
    if target.lower() == PREDICTION_LOG_OFF:
        return None
    folder, shipper = Path(target), None
    if target.startswith("s3://"):
        from loanapp.store.s3 import S3Store  # the predict API touches a store only for this

        folder = settings.prediction_log_spool
        shipper = Shipper(folder, S3Store.from_uri(target))
    return PredictionLog(
        folder,
        settings.model_name,
        shipper=shipper,
        sample=settings.prediction_log_sample,
        queue_size=settings.prediction_log_queue,
        max_bytes=settings.prediction_log_max_bytes,
        max_seconds=settings.prediction_log_max_seconds,
    )


MATH_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_math_threads(threads: int) -> None:
    """Cap OpenMP/BLAS thread pools in this process, loaded now or later.

    Every worker is a process of its own: default pools of one thread per core in each worker
    fight over the same cores and collapse throughput under concurrency. threadpoolctl caps the
    libraries already loaded; the variables cap those a scikit-learn fallback loads later.
    """
    for variable in MATH_THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    threadpool_limits(limits=threads)
