"""The model a fresh store starts with: trained from the shipped data when there is none."""

from __future__ import annotations

from collections.abc import Callable

from loanapp.defaults import DEFAULT_ALIAS
from loanapp.store.registry import ModelRegistry
from loanapp.training.options import DEFAULT_MODEL_TYPE, QUICK_REPEATS, TrainingOptions


def ensure_default_model(
    registry: ModelRegistry, name: str, actor: str, progress: Callable[[str], None]
) -> str:
    """The production version of `name`; trains and publishes a default model if there is none."""
    if not registry.list_versions(name):
        from loanapp.training.data import load_dataset
        from loanapp.training.train import train_model  # scikit-learn: only when training

        progress(f"store is empty: training the default {DEFAULT_MODEL_TYPE} model")
        options = TrainingOptions(model_type=DEFAULT_MODEL_TYPE, name=name, repeats=QUICK_REPEATS)
        result = train_model(load_dataset(), options)
        return registry.publish(
            result.artifact, actor=actor, name=name, alias=DEFAULT_ALIAS
        ).version
    if DEFAULT_ALIAS not in registry.list_aliases(name):
        newest = registry.list_versions(name)[-1].version
        progress(f"{DEFAULT_ALIAS} is unset: promoting the newest version {newest}")
        return registry.promote(name, newest, actor=actor).version
    return registry.get_alias(name).version
