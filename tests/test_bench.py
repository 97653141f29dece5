"""The benchmark's own logic: wrk summary parsing, worker discovery, ratios, verdicts, report."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bench.chart import draw_chart
from bench.inprocess import REASONS_STEP, Timing
from bench.markdown import render_markdown
from bench.procs import CpuSnapshot, CpuUse, ProcessCpu, cpu_between, rss_mb, worker_rss_mb
from bench.results import API, EXPLAIN, FLOOR, GUNICORN_FLOOR, SEED, V2_INFER, HttpRun, Report
from bench.servers import GRANIAN, GUNICORN, bench_app_command
from bench.verdicts import checks, ratios, verdict_lines
from bench.wrkrun import BenchError, WrkResult, parse_wrk_output
from loanapp.dev.processes import child_pids
from loanapp.dev.slow_clients import GoodClientRun

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/predict
  1 threads and 1 connections
  Latency Distribution
     50%  350.00us
BENCH_JSON {"requests": 12000, "duration_us": 5000000, "bytes": 3600000, "errors": {"connect": 0, \
"read": 1, "write": 0, "status": 2, "timeout": 3}, "latency_us": {"min": 120, "mean": 410.5, \
"stdev": 80.2, "max": 9000, "p50": 350, "p90": 500, "p99": 1200, "p99_9": 4000}}
"""


def test_parse_wrk_output_reads_the_json_line():
    result = parse_wrk_output(WRK_OUTPUT, ["wrk"])
    assert result.requests == 12000
    assert result.duration_s == pytest.approx(5.0)
    assert result.requests_per_second == pytest.approx(2400.0)
    assert result.status_errors == 2
    assert result.socket_errors == 4
    assert result.latency_us["p99"] == 1200
    assert result.as_dict()["requests_per_second"] == pytest.approx(2400.0)


def test_service_cpu_per_request_and_other_load():
    run = _run(FLOOR, None, "/predict", "c16", 2000, 500, other=0.5)
    assert run.cpu_ms_per_request == pytest.approx(0.5)
    assert run.other_cpu_percent == pytest.approx(10.0)


def test_parse_wrk_output_without_the_json_line_is_an_error():
    with pytest.raises(BenchError, match="BENCH_JSON"):
        parse_wrk_output("Running 5s test\nRequests/sec: 10\n", ["wrk"])


def test_workers_are_the_children_of_a_pid():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in child_pids(os.getpid())
        assert rss_mb(child.pid) is not None
        assert (rss_mb(os.getpid()) or 0) > 10  # this test process, in MiB
        assert child.pid in worker_rss_mb(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child_pids(2**22 + 12345) == []  # no such process
    assert rss_mb(2**22 + 12345) is None


def _run(
    target, model, endpoint, concurrency, rps, p50_us, *, rows=1, errors=0, rss=60.0, other=0.0
):
    result = WrkResult(
        requests=int(rps * 5),
        duration_s=5.0,
        errors={"connect": 0, "read": 0, "write": 0, "status": errors, "timeout": 0},
        latency_us={"p50": p50_us, "p99": p50_us * 4, "max": p50_us * 10},
        command=["wrk"],
    )
    cpu = CpuUse(
        services_s=rps * 5 * 0.0005,
        wrk_s=1.0,
        other_s=other,
        workers_s={101: 1.0, 102: 1.0 if concurrency == "c1" else 0.1},
        busiest_others=["pytest (7): 0.90 s"] if other else [],
    )
    return HttpRun(target, model, endpoint, rows, concurrency, result, {101: rss, 102: rss}, cpu)


def _report(
    api_rps_c16: float, *, seed_errors: int = 0, floor_other: float = 0.0, api_rps_c64: float = 0
) -> Report:
    runs = [
        _run(GUNICORN_FLOOR, None, "/predict", "c1", 2000, 450),
        _run(GUNICORN_FLOOR, None, "/predict", "c16", 3000, 3000),
        _run(GUNICORN_FLOOR, None, "/predict", "c64", 2900, 12000),
        _run(FLOOR, None, "/predict", "c1", 2500, 300, other=floor_other),
        _run(FLOOR, None, "/predict", "c16", 5000, 1500),
        _run(FLOOR, None, "/predict", "c64", 5100, 6000),
    ]
    for model in ("logreg", "gbm"):
        runs += [
            _run(API, model, "/predict", "c1", 2000, 400),
            _run(API, model, "/predict", "c16", api_rps_c16, 2000),
            _run(API, model, "/predict", "c64", api_rps_c64 or api_rps_c16 * 1.01, 8000),
            _run(API, model, EXPLAIN, "c1", 1600, 500),
            _run(API, model, EXPLAIN, "c16", api_rps_c16 / 2, 2500),
            _run(API, model, "/predict/batch", "c1", 900, 1000, rows=100),
            _run(API, model, "/predict/batch", "c16", 2600, 9000, rows=100),
            _run(SEED, model, "/predict", "c1", 100, 9000, errors=seed_errors),
            _run(SEED, model, "/predict", "c16", 50, 200000, errors=seed_errors),
        ]
    runs.append(_run(API, "logreg", V2_INFER, "c16", api_rps_c16 * 0.8, 2000))
    return Report(
        runs=runs,
        timings=[
            Timing("logreg", "compiled linear", 1, REASONS_STEP, 12e-6),
            Timing("gbm", "compiled trees", 100, REASONS_STEP, 2500e-6),
        ],
        model_versions={"logreg": "a" * 64, "gbm": "b" * 64},
        commands={FLOOR: ["python", "-m", "granian", "bench.floor_app:app"]},
        samples={f"{API} logreg /model": {"predictor": "compiled linear"}},
        wrk_version="wrk 4.1.0",
        duration_s=5,
        warmup_s=2,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        elapsed_s=120.0,
        load_average={"before": "0.10 0.20 0.30 1/100 1", "after": "1.0 0.5 0.4 1/100 2"},
    )


def test_ratios_divide_the_api_by_the_seed_and_both_floors():
    found = {finding.name: finding.value for finding in ratios(_report(4000))}
    assert found["framework floor: granian / gunicorn, req/s at c16"] == pytest.approx(5 / 3)
    assert found["logreg: /predict?explain=true / /predict, req/s at c16"] == pytest.approx(0.5)
    assert found["gbm: /predict?explain=true / /predict, p50 at c1"] == pytest.approx(500 / 400)
    assert found["logreg: API / seed baseline, req/s at c16"] == pytest.approx(80.0)
    assert found["gbm: API / granian floor, req/s at c16"] == pytest.approx(0.8)
    assert found["gbm: API / gunicorn floor, req/s at c16"] == pytest.approx(4 / 3)
    assert found["logreg: API / granian floor, p50 at c1"] == pytest.approx(400 / 300)
    assert found["logreg: API / gunicorn floor, p50 at c1"] == pytest.approx(400 / 450)
    assert found["logreg: API req/s at c64 / at c16"] == pytest.approx(1.01)
    assert found["gbm: /predict/batch (100 rows) rows/s at c16"] == pytest.approx(260_000)


def test_checks_pass_and_fail_against_the_targets():
    verdicts = {f.name: f.verdict for f in checks(_report(4600, seed_errors=7))}
    assert verdicts["/predict req/s at c16 >= 1.5x the gunicorn floor (logreg)"] == "PASS"
    assert verdicts["/predict req/s at c16 >= 1.3x the gunicorn floor (gbm)"] == "PASS"
    assert verdicts["/predict req/s at c16 >= 70% of the granian floor (gbm)"] == "PASS"
    assert verdicts["/predict p50 at c1 <= 1.0x the gunicorn floor's (logreg)"] == "PASS"
    assert verdicts["/predict p50 at c1 <= 1.2x the gunicorn floor's (gbm)"] == "PASS"
    assert verdicts["/predict/batch 100 rows >= 250,000 rows/s at c16 (logreg)"] == "PASS"
    assert verdicts["no collapse at 64 clients: /predict req/s at c64 >= at c16 (gbm)"] == "PASS"
    assert verdicts["zero errors in every predict API and framework floor run"] == "PASS"
    assert verdicts["V2 infer req/s at c16 >= 70% of the granian floor (logreg)"] == "PASS"
    assert (
        verdicts["reasons of a decline add <= 20 µs per row, in process (logreg, 1 row)"] == "PASS"
    )
    assert (
        verdicts["reasons of a decline add <= 20 µs per row, in process (gbm, 100 rows)"] == "FAIL"
    )
    recording = "of the granian floor with metrics, request lines and the prediction log on"
    assert verdicts[f"/predict req/s at c16 >= 65% {recording} (gbm)"] == "PASS"
    assert len(verdicts) == 16  # 5 per model, batch and V2 for logreg, 2 reasons, errors, RSS
    report = replace(
        _report(4000, api_rps_c64=3000),
        slow_clients={
            API: GoodClientRun([2.0] * 148 + [150.0] * 2, held=131, still_open=131),
            "model server": GoodClientRun([2.0] * 150, held=128, still_open=127),
            "steady": GoodClientRun([2.0] * 149 + [150.0], held=128, still_open=128),
        },
    )
    slow = {f.name: f.verdict for f in checks(report)}
    beside = "a good client's p99 <= 100 ms while slow and idle clients hold connections"
    assert slow[f"{API}: {beside}"] == "FAIL"  # 2 of 150 answers over the bound
    assert slow[f"model server: {beside}"] == "FAIL"  # a held connection was dropped
    assert slow[f"steady: {beside}"] == "PASS"  # only the slowest, above p99
    assert slow["/predict req/s at c16 >= 1.5x the gunicorn floor (logreg)"] == "FAIL"
    assert slow["/predict req/s at c16 >= 1.3x the gunicorn floor (gbm)"] == "PASS"
    assert slow["V2 infer req/s at c16 >= 70% of the granian floor (logreg)"] == "FAIL"
    assert slow["no collapse at 64 clients: /predict req/s at c64 >= at c16 (logreg)"] == "FAIL"


def test_markdown_has_every_section_and_verdict():
    report = _report(4000)
    found_checks = checks(report)
    text = render_markdown(
        report, ratios(report), found_checks, {"cpu": "test"}, {"python": "3"}, {"X": "unset"}
    )
    headings = ("## Headline", "## Targets", "## Ratios", "## Framework floor, gunicorn", "## Seed")
    for heading in (*headings, "## Framework floor, granian"):
        assert heading in text
    assert all(line in text for line in verdict_lines(found_checks))
    assert "compiled linear" in text
    assert "| predict API, gbm, /predict?explain=true | 2,000 | - | 0.50 ms |" in text
    assert "Other processes used at most 0% of a core" in text
    busy = _report(4000, floor_other=1.0)  # a whole core-second in a 5 s run: 20 %
    text = render_markdown(busy, ratios(busy), checks(busy), {}, {}, {})
    assert "framework floor, granian /predict c1 (20%: pytest (7): 0.90 s)" in text
    assert "framework floor, granian /predict c16 (91%)" in text  # one worker did 1.0 of 1.1 s


def test_cpu_accounting_splits_the_machine_time():
    master, worker, other = 10, 11, 12

    def snapshot(machine, worker_s, other_s, waited, own):
        processes = {
            master: ProcessCpu("gunicorn", 1, 1.0, 0.0),
            worker: ProcessCpu("gunicorn", master, worker_s, 0.0),
            other: ProcessCpu("pytest", 1, other_s, 0.5),
        }
        return CpuSnapshot(machine, processes, waited, own)

    used = cpu_between(snapshot(100, 5, 1, 1, 2), snapshot(110, 11, 2.5, 3, 2.5), [master])
    assert used.services_s == pytest.approx(6.0)
    assert used.wrk_s == pytest.approx(2.0)
    assert used.bench_s == pytest.approx(0.5)
    assert used.other_s == pytest.approx(1.5)
    assert used.workers_s == {worker: pytest.approx(6.0)}
    assert used.busiest_others == ["pytest (12): 1.50 s"]
    now = CpuSnapshot.take()
    assert now.machine > 0
    assert now.total(os.getpid()) > 0


def test_chart_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    draw_chart(_report(4000).runs, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


def test_bench_apps_run_under_either_server_with_the_predict_apis_sizing():
    granian = bench_app_command(GRANIAN, "bench.floor_app:app", "127.0.0.1", 9000)
    assert granian[1:3] == ["-m", "granian"]
    assert granian[-1] == "bench.floor_app:app"
    assert granian[granian.index("--blocking-threads") + 1] == "4"
    gunicorn = bench_app_command(GUNICORN, "bench.floor_app:app", "127.0.0.1", 9000)
    assert gunicorn[1:3] == ["-m", "gunicorn"]
    assert gunicorn[-1] == "bench.floor_app:app"
    assert gunicorn[gunicorn.index("--threads") + 1] == "4"
    assert gunicorn[gunicorn.index("--worker-connections") + 1] == "8"
