"""Both services on one machine, as `loanapp up`, the demo and the integration tests run them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
import urllib3

from loanapp.dev.processes import ServiceProcess, child_pids, wait_until
from loanapp.store.registry import ModelRegistry
from loanapp.store.uri import open_store

PREDICTION_LOG_VARIABLE = "LOANAPP_PREDICTION_LOG"


@dataclass
class LocalStack:
    """A model server and a predict API started with `loanapp serve`, stopped by PID."""

    store: str
    work_dir: Path
    host: str = "127.0.0.1"
    model_server_port: int = 8001
    predict_api_port: int = 8000
    environment: dict[str, str] = field(default_factory=dict)
    serve_options: dict[str, list[str]] = field(default_factory=dict)
    """Extra `loanapp serve` options per service, e.g. {"predict-api": ["--workers", "4"]}."""
    model_server: ServiceProcess | None = None
    predict_api: ServiceProcess | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def model_server_url(self) -> str:
        """Base URL of the model server."""
        return f"http://{self.host}:{self.model_server_port}"

    @property
    def predict_api_url(self) -> str:
        """Base URL of the predict API."""
        return f"http://{self.host}:{self.predict_api_port}"

    @property
    def prediction_log(self) -> str:
        """Where the predict API records its decisions: as `environment` says, else the work dir."""
        return self.environment.get(PREDICTION_LOG_VARIABLE, str(self.work_dir / "prediction-log"))

    def registry(self) -> ModelRegistry:
        """The registry over the stack's store."""
        return ModelRegistry(open_store(self.store))

    def start_model_server(self, pinned: tuple[str, str] | None = None) -> ServiceProcess:
        """Start (or restart) the model server; `pinned` = (MODEL_URI, MODEL_SHA256)."""
        extra = {"MODEL_URI": pinned[0], "MODEL_SHA256": pinned[1]} if pinned else {}
        self.model_server = self._start("model-server", self.model_server_port, extra)
        return self.model_server

    def start_predict_api(self) -> ServiceProcess:
        """Start the predict API, following the model server."""
        extra = {
            "MODEL_SERVER_URL": self.model_server_url,
            "LOANAPP_CACHE_DIR": str(self.work_dir / "predict-cache"),
            PREDICTION_LOG_VARIABLE: self.prediction_log,
        }
        self.predict_api = self._start("predict-api", self.predict_api_port, extra)
        return self.predict_api

    def start(self) -> LocalStack:
        """Start the model server, then the predict API, each once the one before is ready.

        Each predict-API worker loads its own model, and the service answers ready as soon as
        one has; the stack is started once every worker has.
        """
        self.start_model_server().wait_ready()
        self.start_predict_api().wait_ready()
        self.wait_for_every_worker()
        return self

    def wait_for_every_worker(self, serving: str | None = None, timeout: float = 60.0) -> float:
        """Seconds until every predict-API worker serves a model (`serving`: that version).

        The workers are the service's child processes; each /readyz names the worker that
        answered it, and a new connection per question lets the kernel spread them.
        """
        assert self.predict_api is not None
        assert self.predict_api.pid is not None
        workers = child_pids(self.predict_api.pid)
        pool = urllib3.PoolManager(retries=False)
        seen: dict[int, str] = {}

        def every_worker_serves() -> bool:
            response = pool.request(
                "GET",
                self.predict_api_url + "/readyz",
                timeout=5.0,
                headers={"Connection": "close"},
            )
            detail = orjson.loads(response.data)
            seen[detail["worker_pid"]] = detail.get("version", "")
            return bool(workers) and all(
                seen.get(pid) and serving in (None, seen[pid]) for pid in workers
            )

        waiting_for = f"every worker {workers} serving {serving or 'a model'}"
        return wait_until(
            every_worker_serves,
            url=self.predict_api_url,
            timeout=timeout,
            waiting_for=waiting_for,
            interval=0.02,
        )

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop both services (predict API first) and close their logs."""
        for service in (self.predict_api, self.model_server):
            if service is not None:
                service.stop()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def _start(self, service: str, port: int, extra: dict[str, str]) -> ServiceProcess:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = (self.work_dir / f"{service}.log").open("ab")
        self._logs.append(log)
        environment = {
            k: v for k, v in os.environ.items() if k not in ("MODEL_URI", "MODEL_SHA256")
        }
        argv = [
            sys.executable,
            "-m",
            "loanapp",
            "--store",
            self.store,
            "serve",
            service,
            "--host",
            self.host,
            "--port",
            str(port),
            *self.serve_options.get(service, []),
        ]
        url = f"http://{self.host}:{port}"
        process = ServiceProcess(argv, url=url, env=environment | self.environment | extra, log=log)
        return process.start()


def wait_for_served_version(
    predict_api_url: str, version: str, *, timeout: float = 30.0, confirmations: int = 10
) -> float:
    """Seconds until `confirmations` answers in a row from GET /model name `version`.

    Each worker answers some of the requests, so several answers in a row make it very likely
    that every worker serves the version; the tests check every worker by other means.
    """
    pool = urllib3.PoolManager(retries=False)
    streak = 0

    def served() -> bool:
        nonlocal streak
        streak = 0  # an error or another version breaks the streak
        while streak < confirmations:
            response = pool.request("GET", predict_api_url + "/model", timeout=5.0)
            if orjson.loads(response.data).get("model_version") != version:
                return False
            streak += 1
        return True

    return wait_until(
        served,
        url=predict_api_url,
        timeout=timeout,
        waiting_for=f"serving {version}",
        interval=0.02,
    )
