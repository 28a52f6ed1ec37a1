"""deploy/docker-compose.yml, checked without a Docker engine: the services the scale-out needs,
health checks, named volumes, and an environment every replica's Settings accepts. Where the
docker client has the compose plugin, `docker compose config` validates it too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from recommender.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
ENV = {"POSTGRES_PASSWORD": "secret", "RECOMMENDER_API_TOKEN": "token"}


def substitute(value: str) -> str:
    """Compose's ${NAME:?message} and ${NAME:-default}, with the values in ENV."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return ENV.get(name, default)

    return re.sub(r"\$\{(\w+)(:[?-]([^}]*))?\}", one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return data


def replicas(compose: dict[str, Any]) -> dict[str, Any]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "serve" in service.get("command", [])
    }


def test_services_volumes_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert len(replicas(compose)) == 2
    lb = services["lb"]
    assert lb["image"].split(":")[0] in ("nginx", "caddy") and lb["ports"] == ["8000:80"]
    for one_shot, verb in (("ingest", "ingest"), ("build", "build")):
        service = services[one_shot]
        assert service["restart"] == "no"
        assert verb in service.get("entrypoint", []) + service["command"]
    for name in ["postgres", "redis", "lb", *replicas(compose)]:
        assert services[name]["healthcheck"]["test"], name
    for name, replica in replicas(compose).items():
        needs = replica["depends_on"]
        assert needs["postgres"]["condition"] == needs["redis"]["condition"] == "service_healthy"
        assert needs["build"]["condition"] == "service_completed_successfully", name
    named = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "$", "/"))
    }
    assert used == named == {"pgdata", "models"}


def test_every_app_service_gets_settings_the_service_accepts(compose: dict[str, Any]) -> None:
    fields = {f"RECOMMENDER_{name.upper()}" for name in Settings.model_fields}
    for name in ["ingest", "build", *replicas(compose)]:
        env = {
            key: substitute(str(value))
            for key, value in compose["services"][name]["environment"].items()
        }
        assert set(env) <= fields, f"{name}: unknown settings {set(env) - fields}"
        settings = Settings.model_validate(
            {key.removeprefix("RECOMMENDER_").lower(): value for key, value in env.items()}
        )
        assert settings.resolved_database_url.startswith(
            "postgresql://recommender:secret@postgres:5432/"
        )
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.api_token is not None
        assert any(
            volume.startswith("models:") and volume.endswith(str(settings.models_dir))
            for volume in compose["services"][name]["volumes"]
        )


def test_the_load_balancer_sends_to_every_replica(compose: dict[str, Any]) -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstreams = set(re.findall(r"server\s+([\w-]+):(\d+)", conf))
    expected = set()
    for name, replica in replicas(compose).items():
        command = replica["command"]
        expected.add((name, command[command.index("--port") + 1]))
        assert replica["expose"] == [command[command.index("--port") + 1]]
    assert upstreams == expected
    mounted = compose["services"]["lb"]["volumes"]
    assert any(volume.startswith("./nginx.conf:") for volume in mounted)


def test_docker_compose_config_accepts_it() -> None:
    docker = shutil.which("docker")
    plugin = (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not plugin:
        pytest.skip("no docker compose plugin on this machine; the parsing tests above stand in")
    result = subprocess.run(
        [str(docker), "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert result.returncode == 0, result.stderr
