"""Prometheus metrics of both services, correct with several worker processes.

`directory` prepares the multiprocess folder (no prometheus_client import, for the CLI);
`exposition` renders /metrics; `http`, `predictions` and `model_server` hold the metrics
themselves, each created once per process.
"""
