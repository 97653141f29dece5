"""`loanapp demo`: run, swap, roll back and restart under live traffic, and count what failed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import orjson

from loanapp.serving import free_port
from loanapp.stack import LocalStack, wait_for_served_version
from loanapp.traffic import Reply, summarize
from loanapp.training.data import load_dataset
from loanapp.training.train import TrainingOptions, train_model

DEMO_ACTOR = "demo"
TRAFFIC_MAX_SECONDS = 150.0


def run_demo(work_dir: Path) -> bool:
    """Run the whole scenario in `work_dir` (emptied first); True if no request failed."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    started = time.monotonic()
    step = _Steps(started)
    stack = LocalStack(
        store=str(work_dir / "store"),
        work_dir=work_dir,
        model_server_port=free_port(),
        predict_api_port=free_port(),
    )
    registry = stack.registry()

    step("training two models on the Lending Club sample (logreg, gbm)")
    dataset = load_dataset()
    artifacts = {}
    for model_type in ("logreg", "gbm"):
        result = train_model(dataset, TrainingOptions(model_type=model_type))
        path = work_dir / f"{model_type}.bin"
        path.write_bytes(result.artifact)
        artifacts[model_type] = (path, result.version)
        auc = result.metadata.metrics.holdout["roc_auc"]
        step(f"  {model_type}: version {result.version[:12]}, holdout ROC-AUC {auc:.4f}")
    logreg_version, gbm_version = artifacts["logreg"][1], artifacts["gbm"][1]
    registry.publish(artifacts["logreg"][0].read_bytes(), actor=DEMO_ACTOR)
    registry.promote("loan", logreg_version, actor=DEMO_ACTOR)

    traffic: subprocess.Popen[bytes] | None = None
    replies_path, stop_file = work_dir / "replies.json", work_dir / "stop-traffic"
    try:
        step(f"starting the model server on {stack.model_server_url} (registry mode)")
        stack.start_model_server().wait_ready()
        step(f"starting the predict API on {stack.predict_api_url}")
        stack.start_predict_api().wait_ready()
        step(f"logs: {work_dir}/model-server.log, {work_dir}/predict-api.log")

        step("sending steady traffic from a separate process (4 clients)")
        traffic = subprocess.Popen(
            [
                sys.executable, "-m", "loanapp.traffic", stack.predict_api_url,
                "--out", str(replies_path), "--stop-file", str(stop_file),
                "--max-seconds", str(TRAFFIC_MAX_SECONDS),
            ]
        )  # fmt: skip
        time.sleep(2)

        step(f"publishing and promoting gbm {gbm_version[:12]}")
        registry.publish(artifacts["gbm"][0].read_bytes(), actor=DEMO_ACTOR)
        registry.promote("loan", gbm_version, actor=DEMO_ACTOR)
        seconds = wait_for_served_version(stack.predict_api_url, gbm_version)
        step(f"  predict API serves gbm after {seconds:.2f}s")
        time.sleep(1)

        step("rolling back production")
        registry.rollback("loan", actor=DEMO_ACTOR)
        seconds = wait_for_served_version(stack.predict_api_url, logreg_version)
        step(f"  predict API serves logreg again after {seconds:.2f}s")
        time.sleep(1)

        step("killing the model server with SIGKILL; the predict API keeps answering")
        assert stack.model_server is not None
        stack.model_server.kill()
        time.sleep(3)
        gbm_path = artifacts["gbm"][0]
        step(f"restarting it pinned: MODEL_URI={gbm_path.name} MODEL_SHA256={gbm_version[:12]}...")
        stack.start_model_server(pinned=(str(gbm_path), gbm_version)).wait_ready()
        seconds = wait_for_served_version(stack.predict_api_url, gbm_version)
        step(f"  predict API serves the pinned gbm after {seconds:.2f}s")
        time.sleep(1)
    finally:
        stop_file.touch()
        if traffic is not None:
            traffic.wait(timeout=60)
        stack.stop()

    replies = [Reply(**item) for item in orjson.loads(replies_path.read_bytes())]
    summary = summarize(replies)
    names = {logreg_version: "logreg", gbm_version: "gbm"}
    click.echo("")
    click.echo(f"requests sent:        {summary.sent}")
    click.echo(f"non-2xx or no answer: {summary.failed}")
    click.echo("versions served, in order (majority of replies per half second):")
    for version in summary.versions_in_order:
        click.echo(f"  {version}  {names.get(version, '?')}")
    click.echo(f"demo finished in {time.monotonic() - started:.0f}s")
    return summary.failed == 0 and summary.sent > 0


class _Steps:
    def __init__(self, started: float) -> None:
        self.started = started

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.started:5.1f}s] {message}")
