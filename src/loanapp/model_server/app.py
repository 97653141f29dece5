"""The model server's app factory."""

from __future__ import annotations

import threading

from flask import Flask

from loanapp.model_server.catalog import ModelCatalog, RegistryCatalog
from loanapp.model_server.fleet import Fleet
from loanapp.model_server.pinned import PinnedCatalog
from loanapp.model_server.state import ModelServerState
from loanapp.model_server.ui import ui
from loanapp.model_server.views import blueprint
from loanapp.openapi.page import docs_blueprint
from loanapp.settings import ModelServerSettings, load_settings
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store
from loanapp.web import install_common_handlers, install_state


def create_app(
    settings: ModelServerSettings | None = None, catalog: ModelCatalog | None = None
) -> Flask:
    """A model server over `catalog` (else the one the settings describe), already following."""
    if settings is None:
        settings = load_settings(ModelServerSettings)
    if catalog is None:
        catalog = build_catalog(settings)
    app = Flask(__name__, static_folder=None)  # the dashboard's blueprint serves its own files
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    state = ModelServerState(
        settings,
        catalog,
        threading.BoundedSemaphore(settings.max_long_polls),
        fleet=Fleet(settings.fleet_max_workers, settings.fleet_forget_after_seconds),
    )
    install_state(app, state)
    install_common_handlers(app, "model-server")
    app.register_blueprint(blueprint)
    app.register_blueprint(ui)
    app.register_blueprint(docs_blueprint("loanapp model server"))
    state.start()
    return app


def build_catalog(settings: ModelServerSettings) -> ModelCatalog:
    """PinnedCatalog when MODEL_URI is set, else a RegistryCatalog over the configured store."""
    if settings.pinned_artifact is not None:
        model_uri, model_sha256 = settings.pinned_artifact
        return PinnedCatalog.from_uri(model_uri, model_sha256, alias=settings.alias)
    return RegistryCatalog(
        ModelRegistry(open_store(settings.store)),
        settings.alias,
        settings.store_poll_seconds,
        watch=(settings.model_name,),
    )
