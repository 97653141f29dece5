"""The benchmark run: train, start each target, drive it with wrk, stop it by PID, write the report.

Order (one machine, loopback only, the same rows for every target):
in-process floor -> framework floor under gunicorn, then under granian -> predict API with the
default model, then with the other model after a promotion -> a good client beside slow and idle
clients, against both services -> seed baseline with each model.
Every service is stopped by its PID (process group) as soon as it has been measured, and in any
case before the run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
import urllib3

from bench.inprocess import BATCH_ROWS, REASONS_STEP, Timing, measure_model
from bench.procs import CpuSnapshot, cpu_between, worker_rss_mb
from bench.report import write_report
from bench.results import (
    API,
    EXPLAIN,
    FLOOR,
    GUNICORN_FLOOR,
    MODELS,
    QUIET_API,
    SEED,
    V2_INFER,
    HttpRun,
    Report,
)
from bench.servers import GRANIAN, GUNICORN, bench_app_command
from bench.verdicts import checks, verdict_lines
from bench.wrkrun import BenchError, Load, ensure_wrk, run_wrk, wrk_version
from loanapp.defaults import DEFAULT_MODEL_NAME
from loanapp.dev.processes import ServiceProcess, free_port, wait_until
from loanapp.dev.slow_clients import GoodClientRun, held_long_polls, time_good_client
from loanapp.dev.stack import PREDICTION_LOG_VARIABLE, LocalStack
from loanapp.dev.traffic import sample_rows
from loanapp.errors import LoanappError
from loanapp.predict_api.serving_model import load_serving_model
from loanapp.store.registry import ModelRegistry
from loanapp.training.data import load_dataset
from loanapp.training.options import DEFAULT_MODEL_TYPE, QUICK_REPEATS, TrainingOptions
from loanapp.training.train import TrainingResult, train_model

HOST = "127.0.0.1"
ACTOR = "bench"
REPO_ROOT = Path(__file__).resolve().parents[1]
# (wrk threads, connections): one client, then 16 and 64 clients from two wrk threads. Every
# target gets 1 and 16; the floors and one-row /predict get 64 too, to show nothing collapses.
ONE_AND_SIXTEEN = ((1, 1), (2, 16))
UP_TO_SIXTY_FOUR = (*ONE_AND_SIXTEEN, (2, 64))
# Long-polls held on the model server while its good client is timed, besides the predict
# API workers' own (its cap per worker is 16).
LONG_POLLS_HELD = 16


@dataclass(frozen=True)
class Bodies:
    """Request bodies on disk for wrk: one applicant as a record and as columns, and a batch."""

    record: Path
    columnar: Path
    batch: Path
    tensors: Path
    """The same applicant as an Open Inference Protocol request: one tensor per feature."""

    @classmethod
    def write(cls, folder: Path, rows: Sequence[dict[str, Any]]) -> Bodies:
        """Write the bodies of the first row and of the first BATCH_ROWS rows."""
        first = rows[0]
        bodies = cls(
            folder / "one-record.json",
            folder / "one-columnar.json",
            folder / "batch.json",
            folder / "one-v2.json",
        )
        bodies.record.write_bytes(orjson.dumps(first))
        bodies.columnar.write_bytes(orjson.dumps({k: [v] for k, v in first.items()}))
        bodies.batch.write_bytes(orjson.dumps(list(rows[:BATCH_ROWS])))
        bodies.tensors.write_bytes(orjson.dumps({"inputs": _tensors(first)}))
        return bodies


def _tensors(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One row as V2 input tensors of shape [1]: numbers as FP64 or INT64, categories as BYTES."""
    datatypes = {str: "BYTES", float: "FP64", int: "INT64"}
    return [
        {"name": name, "shape": [1], "datatype": datatypes[type(value)], "data": [value]}
        for name, value in row.items()
    ]


@dataclass
class Bench:
    """One benchmark run: settings, what it started, and what it measured."""

    wrk: str
    work_dir: Path
    bodies: Bodies
    duration: int
    warmup: int
    started: float = field(default_factory=time.monotonic)
    runs: list[HttpRun] = field(default_factory=list)
    commands: dict[str, list[str]] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)
    slow_clients: dict[str, GoodClientRun] = field(default_factory=dict)

    def say(self, message: str) -> None:
        """Progress on stdout, with the seconds since the start."""
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def measure(
        self,
        target: str,
        model: str | None,
        url: str,
        endpoint: str,
        master_pids: Sequence[int],
        *,
        loads: Sequence[tuple[int, int]] = ONE_AND_SIXTEEN,
        expect_version: str | None = None,
    ) -> None:
        """Check one answer, then for each of `loads` (wrk threads, connections): a discarded
        warm-up run, the measured run (with the CPU time every process used during it), and the
        RSS of the target's workers.

        `master_pids`: the target server's main process first, then any service it calls.
        """
        body, rows = self._body_for(target, endpoint)
        self.samples[f"{target} {model or ''} {endpoint}".strip()] = _smoke(
            url + endpoint, body, expect_version
        )
        for threads, connections in loads:
            run_wrk(self.wrk, url + endpoint, body, Load(threads, connections, self.warmup))
            load = Load(threads, connections, self.duration)
            before = CpuSnapshot.take()
            result = run_wrk(self.wrk, url + endpoint, body, load)
            cpu = cpu_between(before, CpuSnapshot.take(), master_pids)
            rss = worker_rss_mb(master_pids[0])
            run = HttpRun(target, model, endpoint, rows, load.label, result, rss, cpu)
            self.runs.append(run)
            self.say(run.summary_line())

    def _body_for(self, target: str, endpoint: str) -> tuple[Path, int]:
        if endpoint == V2_INFER:
            return self.bodies.tensors, 1
        if endpoint.endswith("/batch"):
            return self.bodies.batch, BATCH_ROWS
        if target == SEED:
            return self.bodies.columnar, 1
        return self.bodies.record, 1


def _smoke(url: str, body: Path, expect_version: str | None) -> dict[str, Any]:
    """One request before the load: it must answer 200 (and name the expected version)."""
    pool = urllib3.PoolManager(retries=False)
    response = pool.request(
        "POST",
        url,
        body=body.read_bytes(),
        headers={"Content-Type": "application/json"},
        timeout=30.0,
    )
    if response.status != 200:
        raise BenchError(f"POST {url} answered {response.status}: {response.data[:500]!r}")
    answer: dict[str, Any] = orjson.loads(response.data)
    if expect_version is not None and answer.get("model_version") != expect_version:
        raise BenchError(f"POST {url} answered version {answer.get('model_version')}")
    return answer


@contextlib.contextmanager
def bench_app(
    bench: Bench,
    name: str,
    app: str,
    environment: dict[str, str] | None = None,
    server: str = GRANIAN,
) -> Iterator[tuple[str, ServiceProcess]]:
    """Start a bench-only app under `server` with the predict API's sizing; stop it by PID."""
    port = free_port(HOST)
    command = bench_app_command(server, app, HOST, port)
    bench.commands[name] = command
    env = dict(os.environ) | (environment or {})
    env["PYTHONPATH"] = ":".join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    url = f"http://{HOST}:{port}"
    with (bench.work_dir / f"{name.replace(' ', '-')}.log").open("ab") as log:
        process = ServiceProcess(command, url=url, env=env, log=log)
        try:
            process.start().wait_ready(path="/healthz")
            yield url, process
        finally:
            process.stop()


def train_models(bench: Bench) -> dict[str, TrainingResult]:
    """Both model types trained on the shipped data, as `loanapp train` trains them."""
    dataset = load_dataset()
    trained: dict[str, TrainingResult] = {}
    for model_type in MODELS:
        bench.say(f"training {model_type}")
        options = TrainingOptions(model_type=model_type, repeats=QUICK_REPEATS)
        trained[model_type] = train_model(dataset, options)
        (bench.work_dir / f"{model_type}.bin").write_bytes(trained[model_type].artifact)
    return trained


def measure_in_process(
    bench: Bench, trained: dict[str, TrainingResult], rows: Sequence[dict[str, Any]]
) -> list[Timing]:
    """Target 1: validation + predict_proba in this process, per model, 1 and 100 rows."""
    timings = []
    for model_type, result in trained.items():
        serving = load_serving_model(result.artifact, result.version, source="bench")
        measured = measure_model(model_type, serving, rows)
        timings += measured
        for timing in measured:
            if timing.step in ("validate_request + predict_proba", REASONS_STEP):
                bench.say(
                    f"in-process {model_type} ({timing.predictor}), {timing.rows} row(s), "
                    f"{timing.step}: {timing.seconds_per_call * 1e6:,.1f} µs"
                )
    return timings


def measure_floors(bench: Bench) -> None:
    """Target 2: the framework floor under gunicorn as the services ran before, then under
    granian as they run now, each with the predict API's sizing."""
    for target, server in ((GUNICORN_FLOOR, GUNICORN), (FLOOR, GRANIAN)):
        with bench_app(bench, target, "bench.floor_app:app", server=server) as (url, process):
            assert process.pid is not None
            bench.measure(target, None, url, "/predict", [process.pid], loads=UP_TO_SIXTY_FOUR)


def measure_api(bench: Bench, trained: dict[str, TrainingResult], stack: LocalStack) -> None:
    """Target 3: the predict API as users run it, with each model in turn (the default first).

    The model server keeps running afterwards (the seed baseline asks it for the current
    version); the predict API is stopped, so it takes no CPU from what follows.
    """
    registry = stack.registry()
    bench.say("starting the model server and the predict API with `loanapp serve`")
    stack.start_model_server().wait_ready()
    api = stack.start_predict_api()
    api.wait_ready()
    assert stack.model_server is not None
    assert stack.model_server.pid is not None
    assert api.pid is not None
    services = [api.pid, stack.model_server.pid]
    bench.commands["model server"] = stack.model_server.argv
    bench.commands[API] = api.argv
    for model_type, result in trained.items():
        _promote(registry, result.version)
        # Every worker: each loads the new version on its own, and wrk's connections reach both.
        seconds = stack.wait_for_every_worker(serving=result.version)
        bench.samples[f"{API} {model_type} /model"] = _describe_served(stack.predict_api_url)
        bench.say(f"predict API serves {model_type} ({seconds:.1f}s after promotion)")
        endpoints = [
            ("/predict", UP_TO_SIXTY_FOUR),
            (EXPLAIN, ONE_AND_SIXTEEN),
            ("/predict/batch", ONE_AND_SIXTEEN),
        ]
        if model_type == DEFAULT_MODEL_TYPE:
            endpoints.append((V2_INFER, ONE_AND_SIXTEEN))
        for endpoint, loads in endpoints:
            bench.measure(
                API,
                model_type,
                stack.predict_api_url,
                endpoint,
                services,
                loads=loads,
                expect_version=result.version,
            )
    measure_slow_clients(bench, stack, version=result.version)
    api.stop()
    measure_quiet_api(bench, trained, stack)


def measure_quiet_api(bench: Bench, trained: dict[str, TrainingResult], stack: LocalStack) -> None:
    """Target 3b: one-row /predict with the prediction log and the request lines off, each model,
    to set beside the default (both on)."""
    quiet = {PREDICTION_LOG_VARIABLE: "off", "LOANAPP_LOG_LEVEL": "WARNING"}
    saved = dict(stack.environment)
    stack.environment.update(quiet)
    api = stack.start_predict_api()
    try:
        api.wait_ready()
        assert stack.model_server is not None
        assert stack.model_server.pid is not None
        assert api.pid is not None
        for model_type, result in trained.items():
            _promote(stack.registry(), result.version)
            stack.wait_for_every_worker(serving=result.version)
            bench.measure(
                QUIET_API,
                model_type,
                stack.predict_api_url,
                "/predict",
                [api.pid, stack.model_server.pid],
                loads=ONE_AND_SIXTEEN,
                expect_version=result.version,
            )
    finally:
        api.stop()
        stack.environment.clear()
        stack.environment.update(saved)


def _promote(registry: ModelRegistry, version: str) -> None:
    """Serve `version`: every model is measured in turn, past the promotion gate, which refuses
    a model that is worse than the one it replaces."""
    registry.promote(
        DEFAULT_MODEL_NAME, version, actor=ACTOR, force=True, reason="benchmark: each model in turn"
    )


def measure_slow_clients(bench: Bench, stack: LocalStack, version: str) -> None:
    """Target 5: a good client's latency while 64 slow-header and 64 idle connections are held,
    against the predict API and, with long-polls held as well, the model server."""
    body = bench.bodies.record.read_bytes()
    headers = {"Content-Type": "application/json", "Connection": "close"}

    def predict(pool: urllib3.PoolManager) -> int:
        url = stack.predict_api_url + "/predict"
        return pool.request("POST", url, body=body, headers=headers).status

    def probe_or_download(pool: urllib3.PoolManager) -> int:
        path = next(model_server_paths)
        return pool.request("GET", stack.model_server_url + path, headers=headers).status

    artifact = f"/v1/models/{DEFAULT_MODEL_NAME}/versions/{version}/artifact"
    model_server_paths = itertools.cycle(["/healthz", artifact, "/readyz"])
    bench.slow_clients[API] = time_good_client(stack.predict_api_url, predict)
    with held_long_polls(stack.model_server_url, DEFAULT_MODEL_NAME, version, LONG_POLLS_HELD):
        bench.slow_clients["model server"] = time_good_client(
            stack.model_server_url, probe_or_download
        )
    for service, run in bench.slow_clients.items():
        bench.say(f"{service} beside slow and idle clients: {run.summary()}")


def measure_seed(bench: Bench, trained: dict[str, TrainingResult], stack: LocalStack) -> None:
    """Target 4: the seed's per-request path, each model, with production naming that model."""
    registry = stack.registry()
    assert stack.model_server is not None
    assert stack.model_server.pid is not None
    model_server_pid = stack.model_server.pid
    for model_type, result in reversed(trained.items()):  # gbm first: production names it now
        _promote(registry, result.version)
        environment = {
            "MODEL_SERVER_URL": stack.model_server_url,
            "BENCH_SEED_ARTIFACT": str(bench.work_dir / f"{model_type}.bin"),
            "BENCH_SEED_SHA256": result.version,
        }
        _wait_current(stack.model_server_url, result.version)
        name = f"{SEED} {model_type}"
        with bench_app(bench, name, "bench.seed_app:app", environment) as (url, process):
            assert process.pid is not None
            bench.measure(
                SEED,
                model_type,
                url,
                "/predict",
                [process.pid, model_server_pid],
                expect_version=result.version,
            )
        bench.commands[SEED] = bench.commands.pop(name)


def _describe_served(predict_api_url: str) -> dict[str, Any]:
    """What one worker says it serves (GET /model without the schema) and its /readyz detail."""
    pool = urllib3.PoolManager(retries=False)
    served: dict[str, Any] = orjson.loads(pool.request("GET", predict_api_url + "/model").data)
    readyz = orjson.loads(pool.request("GET", predict_api_url + "/readyz").data)
    shown = ("model_version", "model_type", "predictor", "source")
    return {key: served.get(key) for key in shown} | {"readyz": readyz}


def _load_average() -> str:
    """The line of /proc/loadavg."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def _wait_current(model_server_url: str, version: str, timeout: float = 15.0) -> None:
    """Until the model server names `version` as current (it rereads the alias twice a second)."""
    pool = urllib3.PoolManager(retries=False)
    url = f"{model_server_url}/v1/models/{DEFAULT_MODEL_NAME}/current"

    def named() -> bool:
        response = pool.request("GET", url)
        return response.status == 200 and orjson.loads(response.data).get("version") == version

    wait_until(named, url=model_server_url, timeout=timeout, waiting_for=f"naming {version}")


def run_benchmark(wrk: str, work_dir: Path, duration: int, warmup: int) -> Report:
    """Every target, in order; the services are stopped by PID before this returns or raises."""
    started_at = datetime.now(UTC)
    load_before = _load_average()
    rows: list[dict[str, Any]] = orjson.loads(orjson.dumps(sample_rows(200)))
    bench = Bench(wrk, work_dir, Bodies.write(work_dir, rows), duration, warmup)
    trained = train_models(bench)
    timings = measure_in_process(bench, trained, rows)
    measure_floors(bench)
    stack = LocalStack(
        store=str(work_dir / "store"),
        work_dir=work_dir / "stack",
        host=HOST,
        model_server_port=free_port(HOST),
        predict_api_port=free_port(HOST),
    )
    registry = stack.registry()
    for result in trained.values():
        registry.publish(result.artifact, actor=ACTOR, name=DEFAULT_MODEL_NAME)
    registry.promote(DEFAULT_MODEL_NAME, trained[DEFAULT_MODEL_TYPE].version, actor=ACTOR)
    try:
        measure_api(bench, trained, stack)
        measure_seed(bench, trained, stack)
    finally:
        stack.stop()
    return Report(
        runs=bench.runs,
        timings=timings,
        model_versions={model_type: result.version for model_type, result in trained.items()},
        commands=bench.commands,
        samples=bench.samples,
        wrk_version=wrk_version(wrk),
        duration_s=duration,
        warmup_s=warmup,
        started_at=started_at,
        elapsed_s=time.monotonic() - bench.started,
        load_average={"before": load_before, "after": _load_average()},
        slow_clients=bench.slow_clients,
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """--duration, --warmup, --out, --keep-work-dir."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds of each measured wrk run [5]"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of the discarded run before each [2]"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="report folder [bench]"
    )
    parser.add_argument(
        "--keep-work-dir", action="store_true", help="keep the models, store and service logs"
    )
    options = parser.parse_args(argv)
    if not 1 <= options.duration <= 120 or not 1 <= options.warmup <= 30:
        parser.error("--duration must be 1-120 seconds and --warmup 1-30 seconds")
    return options


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: services stopped by PID


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark once and write the report; 0 when it ran (whatever the verdicts)."""
    options = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    work_dir = Path(tempfile.mkdtemp(prefix="loanapp-bench-"))
    succeeded = False
    try:
        if importlib.util.find_spec("matplotlib") is None:
            raise BenchError("matplotlib is missing: pip install -e '.[bench]'")
        report = run_benchmark(ensure_wrk(), work_dir, options.duration, options.warmup)
        paths = write_report(report, options.out)
        succeeded = True
    except (BenchError, LoanappError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if succeeded and not options.keep_work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            print(f"models, store and service logs kept in {work_dir}", file=sys.stderr)
    print("\n".join(verdict_lines(checks(report))))
    print("wrote " + ", ".join(str(path) for path in paths))
    return 0
