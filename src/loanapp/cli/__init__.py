"""The `loanapp` command: thin calls into the registry, training and the services.

Each group of commands lives in a module of its own and imports what is heavy (pandas,
scikit-learn, the development harness) inside the command that needs it, so `loanapp --help` and
the registry commands start in a fraction of a second.
"""

from loanapp.cli import evaluation, monitor, registry, services, signing, training
from loanapp.cli.base import main

__all__ = ["evaluation", "main", "monitor", "registry", "services", "signing", "training"]
