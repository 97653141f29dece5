"""What a benchmark run measured: the targets' names, one wrk run (`HttpRun`) and the whole run
(`Report`), with the derived numbers and their JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bench.inprocess import Timing
from bench.procs import CpuUse
from bench.wrkrun import WrkResult
from loanapp.defaults import DEFAULT_MODEL_NAME
from loanapp.dev.slow_clients import GoodClientRun
from loanapp.training.options import DEFAULT_MODEL_TYPE, MODEL_TYPES, ModelType

# The framework floor under each server: granian, as the services run now, and gunicorn, as they
# ran before (the old ceiling the new targets are set against).
GUNICORN_FLOOR, FLOOR = "framework floor, gunicorn", "framework floor, granian"
API, SEED = "predict API", "seed baseline"
QUIET_API = "predict API, logs off"
"""The predict API with its prediction log off and no request lines (LOANAPP_LOG_LEVEL=WARNING),
beside the default where both are on: what recording costs."""
TARGETS = (GUNICORN_FLOOR, FLOOR, API, QUIET_API, SEED)
DEFAULT_MODEL = DEFAULT_MODEL_TYPE
# The Open Inference Protocol's inference route: one applicant as one tensor per feature.
V2_INFER = f"/v2/models/{DEFAULT_MODEL_NAME}/infer"
EXPLAIN = "/predict?explain=true"
"""/predict asking for the explanation of its row, measured beside the plain one."""
# The default model first: the predict API starts with it, as a fresh `loanapp up` would.
MODELS: tuple[ModelType, ...] = tuple(sorted(MODEL_TYPES, key=lambda model: model != DEFAULT_MODEL))


@dataclass(frozen=True)
class HttpRun:
    """One measured wrk run against one target, and its workers' RSS right after it."""

    target: str
    model: str | None
    endpoint: str
    rows: int
    concurrency: str
    result: WrkResult
    worker_rss_mb: dict[int, float]
    cpu: CpuUse = field(default_factory=CpuUse)
    """CPU seconds used during the measured run, by whom."""

    @property
    def name(self) -> str:
        """Short label: target, model, endpoint, concurrency."""
        parts = [self.target, self.model or "", self.endpoint, self.concurrency]
        return " ".join(part for part in parts if part)

    @property
    def requests_per_second(self) -> float:
        """Completed requests per second."""
        return self.result.requests_per_second

    @property
    def rows_per_second(self) -> float:
        """Applicants answered per second."""
        return self.requests_per_second * self.rows

    @property
    def p50_ms(self) -> float:
        """Median latency in milliseconds."""
        return self.result.latency_us["p50"] / 1000

    @property
    def p99_ms(self) -> float:
        """99th-percentile latency in milliseconds."""
        return self.result.latency_us["p99"] / 1000

    @property
    def errors(self) -> int:
        """Answers with status >= 400, plus socket errors and timeouts."""
        return self.result.status_errors + self.result.socket_errors

    @property
    def cpu_ms_per_request(self) -> float:
        """CPU time the services spent per completed request, in ms (all processes, all cores)."""
        requests = self.result.requests
        return self.cpu.services_s * 1000 / requests if requests else 0.0

    @property
    def other_cpu_percent(self) -> float:
        """CPU used by other work on the machine during the run, in % of one core."""
        seconds = self.result.duration_s
        return self.cpu.other_s * 100 / seconds if seconds else 0.0

    @property
    def busiest_worker_share(self) -> float:
        """The share of the workers' CPU time that the busiest worker used (1.0: it did all)."""
        total = sum(self.cpu.workers_s.values())
        return max(self.cpu.workers_s.values()) / total if total > 0 else 0.0

    @property
    def max_rss_mb(self) -> float:
        """The largest worker's RSS in MiB (0 if none was found)."""
        return max(self.worker_rss_mb.values(), default=0.0)

    def summary_line(self) -> str:
        """One line for the progress log."""
        return (
            f"{self.name}: {self.requests_per_second:,.0f} req/s, "
            f"{self.rows_per_second:,.0f} rows/s, p50 {self.p50_ms:.2f} ms, "
            f"p99 {self.p99_ms:.2f} ms, errors {self.errors}, RSS {self.max_rss_mb:.0f} MiB, "
            f"CPU {self.cpu_ms_per_request:.2f} ms/req, other load {self.other_cpu_percent:.0f}%"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived numbers."""
        return {
            "name": self.name,
            "target": self.target,
            "model": self.model,
            "endpoint": self.endpoint,
            "rows_per_request": self.rows,
            "concurrency": self.concurrency,
            "requests_per_second": self.requests_per_second,
            "rows_per_second": self.rows_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "worker_rss_mb": {str(pid): size for pid, size in self.worker_rss_mb.items()},
            "cpu_seconds": asdict(self.cpu)
            | {"workers_s": {str(pid): used for pid, used in self.cpu.workers_s.items()}},
            "service_cpu_ms_per_request": self.cpu_ms_per_request,
            "other_cpu_percent_of_a_core": self.other_cpu_percent,
            "wrk": self.result.as_dict(),
        }


@dataclass(frozen=True)
class Report:
    """Everything one run measured, and how."""

    runs: list[HttpRun]
    timings: list[Timing]
    model_versions: dict[str, str]
    commands: dict[str, list[str]]
    samples: dict[str, Any]
    wrk_version: str
    duration_s: int
    warmup_s: int
    started_at: datetime
    elapsed_s: float
    load_average: dict[str, str]
    """/proc/loadavg before and after the run: other work on the machine skews every number."""
    slow_clients: dict[str, GoodClientRun] = field(default_factory=dict)
    """Per service: a good client's latencies while slow and idle clients held connections."""

    def find(self, target: str, model: str | None, endpoint: str, concurrency: str) -> HttpRun:
        """The run of `target` with these settings; KeyError if it was not measured."""
        for run in self.runs:
            if (run.target, run.model, run.endpoint, run.concurrency) == (
                target,
                model,
                endpoint,
                concurrency,
            ):
                return run
        raise KeyError(f"no run of {target} {model} {endpoint} {concurrency}")

    def predict_runs(self, target: str, model: str | None) -> tuple[HttpRun, HttpRun]:
        """The one-row /predict runs of `target` at one client and at 16 (c1, c16)."""
        c16 = self.find(target, model, "/predict", "c16")
        return self.find(target, model, "/predict", "c1"), c16

    def predict_run_c64(self, target: str, model: str | None) -> HttpRun | None:
        """The one-row /predict run of `target` at 64 clients, if it was measured."""
        try:
            return self.find(target, model, "/predict", "c64")
        except KeyError:
            return None
