"""loanapp: serve a scikit-learn loan-default model over HTTP and swap versions without downtime."""

__version__ = "0.1.0"
