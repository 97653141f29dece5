"""The `loanapp` command, run as users run it: a real process, a real store folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from loanapp.cli import main
from loanapp.signing import generate_key_pair
from loanapp.training.train import TrainingResult

LOANAPP = [sys.executable, "-m", "loanapp"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOANAPP, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.integration  # trains on the whole data set in a process of its own
def test_train_push_versions_shows_the_sha256(tmp_path: Path) -> None:
    trained = run("train", "--model", "logreg", "--repeats", "2", "--out", "m.bin", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    digest = hashlib.sha256((tmp_path / "m.bin").read_bytes()).hexdigest()
    assert f"version {digest}" in trained.stdout
    assert "roc_auc" in trained.stdout
    assert "fold 10/10" in trained.stderr  # progress while it works (5 folds x 2 repeats)
    pushed = run("push", "m.bin", "--alias", "production", cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stderr
    listed = run("versions", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith(digest))
    assert line.split()[-2:] == ["production", "-"]  # aliases, signed by (none)
    assert (tmp_path / "model-store" / "blobs" / "sha256" / digest).is_file()


def test_store_comes_from_option_or_environment(tmp_path: Path, logreg: TrainingResult) -> None:
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(logreg.artifact)
    runner = CliRunner()
    env_store = tmp_path / "from-env"
    result = runner.invoke(main, ["push", str(artifact)], env={"LOANAPP_STORE": str(env_store)})
    assert result.exit_code == 0, result.output
    assert (env_store / "blobs" / "sha256" / logreg.version).is_file()
    uri_store = tmp_path / "from-uri"
    result = runner.invoke(main, ["--store", uri_store.as_uri(), "push", str(artifact)])
    assert result.exit_code == 0, result.output
    assert (uri_store / "blobs" / "sha256" / logreg.version).is_file()


def test_promote_rollback_history_show(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes
) -> None:
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]
    paths = []
    for index, data in enumerate((logreg.artifact, second_logreg)):
        paths.append(tmp_path / f"m{index}.bin")
        paths[-1].write_bytes(data)
        assert runner.invoke(main, [*store, "push", str(paths[-1])]).exit_code == 0
    first, second = logreg.version, hashlib.sha256(second_logreg).hexdigest()
    env = {"LOANAPP_ACTOR": "dana"}
    assert runner.invoke(main, [*store, "promote", first[:10]], env=env).exit_code == 0
    promoted = runner.invoke(main, [*store, "promote", second], env=env)
    assert f"production: {first} -> {second}" in promoted.output
    rolled = runner.invoke(main, [*store, "rollback"], env=env)
    assert f"production: {second} -> {first} (rollback, revision 3)" in rolled.output
    history = json.loads(runner.invoke(main, [*store, "history", "--json"]).output)
    assert [c["by"] for c in history["history"]] == ["dana"] * 3
    assert history["version"] == first
    versions = json.loads(runner.invoke(main, [*store, "versions", "--json"]).output)
    assert {v["version"]: v["aliases"] for v in versions} == {first: ["production"], second: []}
    shown = json.loads(runner.invoke(main, [*store, "show", second[:8]]).output)
    assert shown["metadata"]["target"]["positive_class"] == "bad"
    table = runner.invoke(main, [*store, "history"]).output.splitlines()
    assert len(table) == 3
    assert "rollback" in table[2]


@pytest.mark.integration  # one process per case
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "abcdef"], "model 'loan' has no version 'abcdef'"),
        (["rollback"], "no model named 'loan'"),
        (["show", "xyz"], "'xyz' is not a version"),
        (["--store", "s3x://b", "versions"], "unsupported store URI"),
        (["versions", "--name", "../etc"], "invalid model name '../etc'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {message}" or message in result.stderr
    assert "Traceback" not in result.stderr


def test_pushing_a_tampered_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"PK\x03\x04 not really")
    result = CliRunner().invoke(main, ["--store", str(tmp_path / "s"), "push", str(bad)])
    assert result.exit_code == 1
    assert "not a valid loanapp artifact" in result.output


def _push_two(
    runner: CliRunner, tmp_path: Path, logreg: TrainingResult, second: bytes
) -> list[str]:
    """Push two versions to the store in tmp_path/store; production points at the first."""
    store = ["--store", str(tmp_path / "store")]
    for index, data in enumerate((logreg.artifact, second)):
        path = tmp_path / f"m{index}.bin"
        path.write_bytes(data)
        alias = ["--alias", "production"] if index == 0 else []
        assert runner.invoke(main, [*store, "push", str(path), *alias]).exit_code == 0
    return [logreg.version, hashlib.sha256(second).hexdigest()]


def _damage_blob(store: Path, version: str) -> str:
    blob = store / "blobs" / "sha256" / version
    tampered = bytearray(blob.read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    blob.write_bytes(bytes(tampered))
    return hashlib.sha256(bytes(tampered)).hexdigest()


def test_promote_refuses_a_version_whose_bytes_changed(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes
) -> None:
    runner = CliRunner()
    first, second = _push_two(runner, tmp_path, logreg, second_logreg)
    actual = _damage_blob(tmp_path / "store", second)
    store = ["--store", str(tmp_path / "store")]
    result = runner.invoke(main, [*store, "promote", second[:8]])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot promote {second} to 'production': its stored bytes hash to {actual}\n"
    )
    history = json.loads(runner.invoke(main, [*store, "history", "--json"]).output)
    assert history["version"] == first


def test_verify_prints_one_line_per_problem_and_exits_1(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes
) -> None:
    runner = CliRunner()
    first, _ = _push_two(runner, tmp_path, logreg, second_logreg)
    store = ["--store", str(tmp_path / "store")]
    sound = runner.invoke(main, [*store, "verify"])
    assert sound.exit_code == 0, sound.output
    uri = (tmp_path / "store").absolute().as_uri()
    assert sound.output == (
        f"checked 2 blobs, 2 version records, 1 alias (1 history entry), 0 signatures in {uri}: "
        "no problems\n"
    )
    actual = _damage_blob(tmp_path / "store", first)
    damaged = runner.invoke(main, [*store, "verify", "--name", "loan"])
    assert damaged.exit_code == 1
    assert damaged.output.splitlines() == [
        f"blobs/sha256/{first}: stored bytes hash to {actual}",
        f"models/loan/aliases/production.json: points at {first}, whose blob is damaged",
        f"checked 2 blobs, 2 version records, 1 alias (1 history entry), 0 signatures in {uri}: "
        "2 problems",
    ]
    unknown = runner.invoke(main, [*store, "verify", "--name", "ghost"])
    assert unknown.exit_code == 1
    assert unknown.output == "Error: no model named 'ghost' in the store\n"


def test_keygen_push_signed_versions_and_sign(
    tmp_path: Path, logreg: TrainingResult, second_logreg: bytes
) -> None:
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]
    made = runner.invoke(main, ["keygen", "--out", str(tmp_path / "keys")])
    assert made.exit_code == 0, made.output
    key_id = made.output.split("key id")[1].split()[0]
    private = tmp_path / "keys" / "loanapp-signing.key"
    assert (tmp_path / "keys" / "loanapp-signing.pub").is_file()
    artifact = tmp_path / "m.bin"
    artifact.write_bytes(logreg.artifact)
    pushed = runner.invoke(main, [*store, "push", str(artifact), "--sign-key", str(private)])
    assert pushed.exit_code == 0, pushed.output
    assert f"signed by key {key_id}" in pushed.output
    (tmp_path / "second.bin").write_bytes(second_logreg)
    # Unsigned at first, then signed with the key from the environment.
    assert runner.invoke(main, [*store, "push", str(tmp_path / "second.bin")]).exit_code == 0
    second = hashlib.sha256(second_logreg).hexdigest()
    listed = json.loads(runner.invoke(main, [*store, "versions", "--json"]).output)
    assert [(v["version"], v["signed_by"]) for v in listed] == [
        (logreg.version, [key_id]),
        (second, []),
    ]
    signed = runner.invoke(
        main, [*store, "sign", second[:10]], env={"LOANAPP_SIGNING_KEY": str(private)}
    )
    assert signed.exit_code == 0, signed.output
    assert signed.output == f"loan {second} signed by key {key_id}\n"
    table = runner.invoke(main, [*store, "versions"]).output
    assert all(key_id in line for line in table.splitlines()[1:])
    unkeyed = runner.invoke(main, [*store, "sign", second[:10]], env={"LOANAPP_SIGNING_KEY": ""})
    assert unkeyed.exit_code == 2
    assert "give --sign-key or set LOANAPP_SIGNING_KEY" in unkeyed.output


def test_serve_refuses_trusted_keys_it_cannot_read(tmp_path: Path) -> None:
    private, _ = generate_key_pair(tmp_path, "publisher")
    missing = run("serve", "predict-api", cwd=tmp_path, env={"LOANAPP_TRUSTED_KEYS": "nope.pub"})
    assert missing.returncode == 1
    assert missing.stderr == "Error: cannot read key file nope.pub: No such file or directory\n"
    private_key = run(
        "serve", "predict-api", cwd=tmp_path, env={"LOANAPP_TRUSTED_KEYS": str(private)}
    )
    assert private_key.returncode == 1
    assert private_key.stderr.startswith(f"Error: {private} is not a PEM public key")


def test_promote_through_the_gate_force_and_history(
    tmp_path: Path, logreg: TrainingResult, baseline: TrainingResult
) -> None:
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]
    env = {"LOANAPP_ACTOR": "dana"}
    for result in (logreg, baseline):
        (tmp_path / f"{result.metadata.model_type}.bin").write_bytes(result.artifact)
    pushed = runner.invoke(
        main, [*store, "push", str(tmp_path / "logreg.bin"), "--alias", "production"]
    )
    assert pushed.exit_code == 0, pushed.output
    assert runner.invoke(main, [*store, "push", str(tmp_path / "baseline.bin")]).exit_code == 0

    refused = runner.invoke(main, [*store, "promote", baseline.version[:10]], env=env)
    assert refused.exit_code == 1
    assert refused.output.startswith(
        f"Error: promotion refused: candidate {baseline.version[:12]} has CV ROC-AUC 0.5000 and "
        f"production {logreg.version[:12]} has "
    )
    no_reason = runner.invoke(main, [*store, "promote", baseline.version, "--force"], env=env)
    assert no_reason.exit_code == 1
    assert "a forced promotion needs a reason" in no_reason.output

    forced = runner.invoke(
        main,
        [*store, "promote", baseline.version, "--force", "--reason", "prior-only trial"],
        env=env,
    )
    assert forced.exit_code == 0, forced.output
    assert "forced past the gate" in forced.output
    history = runner.invoke(main, [*store, "history"], env=env)
    last = history.output.splitlines()[-1]
    assert last.endswith("by dana  FORCED  (prior-only trial)")
    as_json = json.loads(runner.invoke(main, [*store, "history", "--json"]).output)
    assert as_json["history"][-1]["forced"] is True
    assert as_json["history"][-1]["reason"] == "prior-only trial"


def test_compare_prints_the_paired_figures(
    tmp_path: Path, logreg: TrainingResult, baseline: TrainingResult, second_logreg: bytes
) -> None:
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]
    files = {}
    for label, data in {
        "logreg": logreg.artifact,
        "baseline": baseline.artifact,
        "copy": second_logreg,
    }.items():
        files[label] = tmp_path / f"{label}.bin"
        files[label].write_bytes(data)
    assert runner.invoke(main, [*store, "push", str(files["logreg"])]).exit_code == 0

    # A version in the store against an artifact file.
    result = runner.invoke(main, [*store, "compare", str(files["baseline"]), logreg.version[:8]])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"candidate  {baseline.version[:12]}  baseline  CV ROC-AUC 0.5000")
    assert lines[1].startswith(f"current    {logreg.version[:12]}  logreg")
    assert lines[2] == "folds      3 paired (3 x 1 repeated stratified on 480 rows, seed 42)"
    auc = logreg.metadata.metrics.cross_validation["roc_auc"].mean
    assert lines[3].startswith(f"ΔAUC       {0.5 - auc:+.4f} (corrected 95 % CI ")
    assert lines[3].endswith("candidate ahead in 0 of 3 folds")
    assert lines[4].startswith("Δcost      +")  # the baseline costs more per applicant
    assert lines[-1].startswith("gate       refuses (worse)")

    same = runner.invoke(main, [*store, "compare", str(files["copy"]), str(files["logreg"])])
    assert "ΔAUC       +0.0000 (corrected 95 % CI +0.0000 to +0.0000)" in same.output
    assert "verdict    no difference shown" in same.output
    assert "gate       passes" in same.output

    as_json = json.loads(
        runner.invoke(
            main, [*store, "compare", "--json", str(files["baseline"]), str(files["logreg"])]
        ).output
    )
    assert as_json["gate"] == "worse"
    assert as_json["delta_auc"]["mean"] == pytest.approx(0.5 - auc)
    assert as_json["delta_cost"]["folds"] == 3
