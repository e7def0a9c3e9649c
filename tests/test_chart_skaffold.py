"""skaffold.yaml builds both images and deploys the chart with them (no skaffold binary here: the
file is read, its templates filled as skaffold fills them, and the result rendered by helm)."""

import re

import yaml

from chart_support import CHART, REPO, component, containers, render

SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())
TAG = "v0.1.0-3-gabc1234"


def _image_variables(name: str) -> dict[str, str]:
    # skaffold names the variables after the artifact, non-alphanumerics replaced by "_"
    key = re.sub(r"[^A-Za-z0-9]", "_", name)
    return {f"IMAGE_REPO_{key}": name, f"IMAGE_TAG_{key}": TAG, f"IMAGE_FULLY_QUALIFIED_{key}": f"{name}:{TAG}"}


def _fill(template: str, variables: dict[str, str]) -> str:
    def value(match):
        assert match.group(1) in variables, f"{match.group(1)} is not an artifact's variable"
        return variables[match.group(1)]
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", value, template)


def test_it_builds_the_server_and_the_agent_image_from_their_dockerfiles():
    artifacts = {artifact["image"]: artifact for artifact in SKAFFOLD["build"]["artifacts"]}
    assert {name: artifact["docker"]["dockerfile"] for name, artifact in artifacts.items()} == {
        "microdash": "Dockerfile", "microdash-agent": "agent/Dockerfile"}
    for artifact in artifacts.values():
        assert artifact["context"] == "." and (REPO / artifact["docker"]["dockerfile"]).is_file()


def _release_values(profile: str | None) -> list[str]:
    release = SKAFFOLD["deploy"]["helm"]["releases"][0]
    assert (REPO / release["chartPath"]).resolve() == CHART
    variables = {}
    for artifact in SKAFFOLD["build"]["artifacts"]:
        variables.update(_image_variables(artifact["image"]))
    sets = [f"{key}={_fill(value, variables)}" for key, value in release["setValueTemplates"].items()]
    if profile:
        chosen = next(entry for entry in SKAFFOLD["profiles"] if entry["name"] == profile)
        for patch in chosen["patches"]:
            assert patch["path"] == "/deploy/helm/releases/0/setValues"
            sets += [f"{key}={value}" for key, value in patch["value"].items()]
    return sets


def _rendered_images(profile: str | None) -> dict[str, set[str]]:
    args = tuple(argument for value in _release_values(profile) for argument in ("--set", value))
    images: dict[str, set[str]] = {}
    for doc in render(namespace="microdash", release="microdash", extra=args):
        if component(doc) in {"mariadb", "redis", "mosquitto"}:
            continue
        for container in containers(doc):
            images.setdefault(component(doc), set()).add(container["image"])
    return images


def test_the_chart_runs_the_images_skaffold_built():
    for profile in (None, "kind"):
        images = _rendered_images(profile)
        assert images.pop("agent") == {f"microdash-agent:{TAG}"}
        assert set().union(*images.values()) == {f"microdash:{TAG}"}


def test_the_kind_profile_is_activated_by_the_kind_clusters_context_and_loads_images_locally():
    kind = next(entry for entry in SKAFFOLD["profiles"] if entry["name"] == "kind")
    assert kind["activation"] == [{"kubeContext": "kind-microdash"}]
    assert kind["build"]["local"]["push"] is False
