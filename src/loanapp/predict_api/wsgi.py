"""WSGI entry of the predict API for gunicorn: `loanapp.predict_api.wsgi:app`."""

from loanapp.logs import configure_logging
from loanapp.predict_api.app import create_app
from loanapp.settings import PredictApiSettings, load_settings

settings = load_settings(PredictApiSettings)
configure_logging(settings.log_level)
app = create_app(settings)
