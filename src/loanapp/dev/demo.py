"""`loanapp demo`: run, swap, roll back and restart under live traffic, and count what failed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

from loanapp.defaults import DEFAULT_ALIAS, DEFAULT_MODEL_NAME
from loanapp.dev.processes import free_port
from loanapp.dev.stack import LocalStack, wait_for_served_version
from loanapp.dev.traffic import Reply, summarize
from loanapp.errors import PromotionRefusedError
from loanapp.training.options import QUICK_REPEATS, ModelType, TrainingOptions

DEMO_ACTOR = "demo"
TRAFFIC_MAX_SECONDS = 150.0
DEMO_MODEL_TYPES: tuple[ModelType, ...] = ("logreg", "gbm")
DEMO_REASON = "demo: show a swap and a rollback under live traffic"


@dataclass(frozen=True)
class TrainedArtifact:
    """A model the demo trained: its artifact file and version."""

    model_type: str
    path: Path
    version: str


class _Steps:
    """Prints each step with the seconds since the demo started."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        click.echo(f"[{self.elapsed():5.1f}s] {message}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def run_demo(work_dir: Path) -> bool:
    """Run the whole scenario in `work_dir` (emptied first); True if no request failed."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    step = _Steps()
    stack = LocalStack(
        store=str(work_dir / "store"),
        work_dir=work_dir,
        model_server_port=free_port(),
        predict_api_port=free_port(),
    )
    logreg, gbm = _train(work_dir, step)
    stack.registry().publish(logreg.path.read_bytes(), actor=DEMO_ACTOR, alias=DEFAULT_ALIAS)
    replies_path = work_dir / "replies.json"
    try:
        _start_services(stack, step)
        with _traffic(stack.predict_api_url, replies_path, work_dir / "stop-traffic", step):
            _swap_roll_back_and_restart(stack, logreg, gbm, step)
    finally:
        stack.stop()
    return _report(replies_path, {logreg.version: "logreg", gbm.version: "gbm"}, step)


def _train(work_dir: Path, step: _Steps) -> list[TrainedArtifact]:
    from loanapp.training.data import load_dataset
    from loanapp.training.train import train_model

    step(f"training two models on the Lending Club sample ({', '.join(DEMO_MODEL_TYPES)})")
    dataset = load_dataset()
    trained = []
    for model_type in DEMO_MODEL_TYPES:
        result = train_model(dataset, TrainingOptions(model_type=model_type, repeats=QUICK_REPEATS))
        path = work_dir / f"{model_type}.bin"
        path.write_bytes(result.artifact)
        trained.append(TrainedArtifact(model_type, path, result.version))
        auc = result.metadata.metrics.holdout["roc_auc"]
        step(f"  {model_type}: version {result.version[:12]}, holdout ROC-AUC {auc:.4f}")
    return trained


def _start_services(stack: LocalStack, step: _Steps) -> None:
    step(f"starting the model server on {stack.model_server_url} (registry mode)")
    stack.start_model_server().wait_ready()
    step(f"starting the predict API on {stack.predict_api_url}")
    stack.start_predict_api().wait_ready()
    stack.wait_for_every_worker()
    step(f"logs: {stack.work_dir}/model-server.log, {stack.work_dir}/predict-api.log")


@contextmanager
def _traffic(url: str, replies_path: Path, stop_file: Path, step: _Steps) -> Iterator[None]:
    """Steady traffic from a separate process for as long as the block runs."""
    step("sending steady traffic from a separate process (4 clients)")
    traffic = subprocess.Popen(
        [
            sys.executable, "-m", "loanapp.dev.traffic", url,
            "--out", str(replies_path), "--stop-file", str(stop_file),
            "--max-seconds", str(TRAFFIC_MAX_SECONDS),
        ]
    )  # fmt: skip
    try:
        time.sleep(2)
        yield
    finally:
        stop_file.touch()
        traffic.wait(timeout=60)


def _swap_roll_back_and_restart(
    stack: LocalStack, logreg: TrainedArtifact, gbm: TrainedArtifact, step: _Steps
) -> None:
    registry = stack.registry()
    step(f"publishing gbm {gbm.version[:12]} and asking the promotion gate")
    registry.publish(gbm.path.read_bytes(), actor=DEMO_ACTOR)
    try:
        registry.promote(DEFAULT_MODEL_NAME, gbm.version, actor=DEMO_ACTOR)
        step("  the gate let gbm through")
    except PromotionRefusedError as refusal:
        step(f"  {refusal.message}")
        step("  promoting it anyway with --force and a reason, as an operator would")
        registry.promote(
            DEFAULT_MODEL_NAME, gbm.version, actor=DEMO_ACTOR, force=True, reason=DEMO_REASON
        )
    seconds = wait_for_served_version(stack.predict_api_url, gbm.version)
    step(f"  predict API serves gbm after {seconds:.2f}s")
    time.sleep(1)

    step(f"rolling back {DEFAULT_ALIAS}")
    registry.rollback(DEFAULT_MODEL_NAME, actor=DEMO_ACTOR)
    seconds = wait_for_served_version(stack.predict_api_url, logreg.version)
    step(f"  predict API serves logreg again after {seconds:.2f}s")
    time.sleep(1)

    step("killing the model server with SIGKILL; the predict API keeps answering")
    assert stack.model_server is not None
    stack.model_server.kill()
    time.sleep(3)
    step(f"restarting it pinned: MODEL_URI={gbm.path.name} MODEL_SHA256={gbm.version[:12]}...")
    stack.start_model_server(pinned=(str(gbm.path), gbm.version)).wait_ready()
    seconds = wait_for_served_version(stack.predict_api_url, gbm.version)
    step(f"  predict API serves the pinned gbm after {seconds:.2f}s")
    time.sleep(1)


def _report(replies_path: Path, names: dict[str, str], step: _Steps) -> bool:
    replies = [Reply(**item) for item in orjson.loads(replies_path.read_bytes())]
    summary = summarize(replies)
    click.echo("")
    click.echo(f"requests sent:        {summary.sent}")
    click.echo(f"non-2xx or no answer: {summary.failed}")
    click.echo("versions served, in order (majority of replies per half second):")
    for version in summary.versions_in_order:
        click.echo(f"  {version}  {names.get(version, '?')}")
    click.echo(f"demo finished in {step.elapsed():.0f}s")
    return summary.failed == 0 and summary.sent > 0
