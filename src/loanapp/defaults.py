"""Defaults that several layers share: where the store is, which model is served, by which alias.

They live here, apart from the modules that use them, so that a process imports only what it
runs: the predict API reads these without importing the store it must never touch.
"""

from __future__ import annotations

DEFAULT_STORE_URI = "./model-store"
DEFAULT_MODEL_NAME = "loan"
DEFAULT_ALIAS = "production"
