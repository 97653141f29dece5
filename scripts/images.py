"""Build both service images from deploy/Dockerfile (`make images`) and print their sizes.

    python scripts/images.py [--base auto|real|stand-in]

Uses docker when a Docker engine answers, else podman. The base is the Dockerfile's default
(`python:3.11-slim`) when it can be pulled; where no container registry is reachable, a stand-in
with the same Python (3.11, Debian bookworm's packages, made with mmdebstrap) is built once and
passed as PYTHON_IMAGE. Each image is also tagged with a hash of everything that goes into it
(Dockerfile, pins, sources, base), so a second run with the same inputs builds nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
TARGETS = ("model-server", "predict-api")
VERSION = "0.1.0"  # the tag deploy/docker-compose.yml names
# What the build context holds (.dockerignore lets exactly these in); their bytes make the tag.
CONTEXT_FILES = ("pyproject.toml", "constraints.txt", "README.md")
CONTEXT_FOLDERS = ("src",)
IGNORED_PARTS = ("__pycache__", ".egg-info")
# Stand-ins, from Debian's archive without recommended packages (so no compiler), for images no
# registry can be pulled from here: the Python base (python, venv, pip, and useradd from passwd)
# and, for the compose test only, the proxy (nginx, and wget for its health check).
STAND_IN_SUITE = "bookworm"
STAND_INS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "python": (("python3", "python3-venv", "python3-pip", "python-is-python3", "passwd"), ()),
    "nginx": (("nginx", "wget"), ('CMD ["nginx", "-g", "daemon off;"]',)),
}
# A build that must trust a TLS-intercepting proxy's CA gets the host's bundle, read-only.
HOST_CA_FOLDER = Path("/etc/ssl/certs")
HOST_CA_BUNDLE = HOST_CA_FOLDER / "ca-certificates.crt"
# Container runtimes ask for more open files and processes than some hosts' hard limits allow
# ("setrlimit ... Operation not permitted"); these caps keep the asks within them.
NOFILE_CAP = 65536
NPROC_CAP = 8192
COMMAND_TIMEOUT_SECONDS = 1800


class ImageError(RuntimeError):
    """No engine, or a build step failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Engine:
    """A container engine's command line, with the options this host needs on every run."""

    name: str
    command: tuple[str, ...]
    limits: tuple[str, ...]

    def run(self, *arguments: str, timeout: float = COMMAND_TIMEOUT_SECONDS) -> str:
        """Run `engine ARGUMENTS`; its stdout, or ImageError quoting its stderr."""
        result = subprocess.run(
            [*self.command, *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            shown = " ".join(arguments[:3])
            raise ImageError(f"{self.name} {shown} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def succeeds(self, *arguments: str, timeout: float = 120) -> bool:
        """Whether `engine ARGUMENTS` exits 0 (output discarded)."""
        try:
            self.run(*arguments, timeout=timeout)
        except (ImageError, subprocess.TimeoutExpired):
            return False
        return True

    def has_image(self, reference: str) -> bool:
        """Whether the image is in the engine's local storage."""
        return self.succeeds("image", "inspect", reference)


def get_limits() -> tuple[str, ...]:
    """`--ulimit` options for nofile and nproc within this host's hard limits."""
    options: list[str] = []
    for name, limit, cap in (
        ("nofile", resource.RLIMIT_NOFILE, NOFILE_CAP),
        ("nproc", resource.RLIMIT_NPROC, NPROC_CAP),
    ):
        hard = resource.getrlimit(limit)[1]
        value = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
        options += ["--ulimit", f"{name}={value}:{value}"]
    return tuple(options)


def find_engine() -> Engine:
    """Docker if its engine answers, else podman (with runc: crun refuses hybrid cgroup hosts)."""
    if shutil.which("docker"):
        docker = Engine("docker", ("docker",), ())
        if docker.succeeds("info", timeout=30):
            return docker
    if shutil.which("podman"):
        runtime = ("--runtime", "runc") if shutil.which("runc") else ()
        podman = Engine("podman", ("podman", *runtime), get_limits())
        if podman.succeeds("info", timeout=60):
            return podman
    raise ImageError(
        "no container engine answers: install podman and runc (apt-get install podman runc)"
        " or start a Docker engine"
    )


def iter_context_files() -> Iterator[Path]:
    """The build context's files, in a stable order."""
    for name in CONTEXT_FILES:
        yield ROOT / name
    for folder in CONTEXT_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            ignored = path.suffix in (".pyc", ".pyo") or any(p in str(path) for p in IGNORED_PARTS)
            if path.is_file() and not ignored:
                yield path


def get_inputs_hash(recipe: str) -> str:
    """A short hash of the Dockerfile, the build context and the recipe (base, options)."""
    digest = hashlib.sha256(recipe.encode())
    for path in (DOCKERFILE, *iter_context_files()):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def get_stand_in_tag(kind: str) -> str:
    """A stand-in's name, tagged by its suite and recipe."""
    packages, changes = STAND_INS[kind]
    recipe = " ".join((STAND_IN_SUITE, *packages, *changes)).encode()
    return f"loanapp-{kind}-stand-in:{STAND_IN_SUITE}-{hashlib.sha256(recipe).hexdigest()[:12]}"


def build_stand_in(engine: Engine, kind: str = "python") -> str:
    """A stand-in image's tag, built with mmdebstrap unless the engine already has it."""
    tag = get_stand_in_tag(kind)
    if engine.has_image(tag):
        return tag
    if not shutil.which("mmdebstrap"):
        raise ImageError(f"no {kind} image can be pulled and mmdebstrap is missing (apt-get)")
    packages, changes = STAND_INS[kind]
    with tempfile.TemporaryDirectory(prefix=f"loanapp-{kind}-stand-in-") as folder:
        tarball = Path(folder) / "rootfs.tar"
        result = subprocess.run(
            [
                "mmdebstrap",
                "--variant=apt",
                "--aptopt=APT::Install-Recommends false",
                f"--include={','.join(packages)}",
                STAND_IN_SUITE,
                str(tarball),
            ],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise ImageError(f"mmdebstrap failed ({result.returncode}): {result.stderr[-2000:]}")
        engine.run("import", *(f"--change={change}" for change in changes), str(tarball), tag)
    return tag


def get_default_base() -> str:
    """The Dockerfile's default PYTHON_IMAGE."""
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("ARG PYTHON_IMAGE="):
            return line.split("=", 1)[1].strip()
    raise ImageError(f"{DOCKERFILE} declares no default PYTHON_IMAGE")


def choose_base(engine: Engine, choice: str) -> str | None:
    """None for the Dockerfile's own base; else the stand-in's tag (`auto`: when no pull works)."""
    if choice == "real":
        return None
    if choice == "auto":
        real = get_default_base()
        if engine.has_image(real) or engine.succeeds("pull", "--quiet", real, timeout=300):
            return None
        print(f"{real} cannot be pulled here: building on a stand-in base", file=sys.stderr)
    return build_stand_in(engine)


def get_build_options(engine: Engine, base: str | None) -> list[str]:
    """Base, host network and CA bundle (podman only: `docker build` mounts no volumes)."""
    options = ["--build-arg", f"PYTHON_IMAGE={base}"] if base else []
    if engine.name == "podman":
        # Docker's image format: the OCI format has no HEALTHCHECK, and podman drops it there.
        options += ["--format", "docker", "--network", "host", *engine.limits]
        if HOST_CA_BUNDLE.is_file():
            options += [
                "--volume",
                f"{HOST_CA_FOLDER}:{HOST_CA_FOLDER}:ro",
                "--build-arg",
                f"PIP_CERT={HOST_CA_BUNDLE}",
            ]
    return options


def build_images(engine: Engine, base: str | None) -> dict[str, str]:
    """Both targets, each tagged `VERSION` and by its inputs' hash; the hash tag by target."""
    options = get_build_options(engine, base)
    inputs = get_inputs_hash(" ".join([base or get_default_base(), *options]))
    tags: dict[str, str] = {}
    for target in TARGETS:
        name = f"loanapp-{target}"
        tags[target] = f"{name}:inputs-{inputs}"
        if not engine.has_image(tags[target]):
            engine.run(
                "build",
                *options,
                "--file",
                str(DOCKERFILE),
                "--target",
                target,
                "--tag",
                tags[target],
                str(ROOT),
            )
        engine.run("tag", tags[target], f"{name}:{VERSION}")
        remove_stale_tags(engine, name, keep=tags[target])
    return tags


def remove_stale_tags(engine: Engine, name: str, keep: str) -> None:
    """Untag this image's builds from older inputs, so their layers can be freed."""
    listed = engine.run("images", "--filter", f"reference={name}", "--format", "{{.Tag}}")
    for tag in set(listed.split()):
        if tag.startswith("inputs-") and f"{name}:{tag}" != keep:
            engine.succeeds("rmi", f"{name}:{tag}")


def get_size_mb(engine: Engine, reference: str) -> float:
    """The image's size in MB (10^6 bytes), as the engine reports it."""
    return int(engine.run("image", "inspect", "--format", "{{.Size}}", reference)) / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    """Build both images and print each one's tags and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=("auto", "real", "stand-in"), default="auto")
    options = parser.parse_args(argv)
    try:
        engine = find_engine()
        tags = build_images(engine, choose_base(engine, options.base))
        for target, tag in tags.items():
            size = get_size_mb(engine, tag)
            print(f"{target}: loanapp-{target}:{VERSION} = {tag}, {size:.0f} MB ({engine.name})")
    except ImageError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
