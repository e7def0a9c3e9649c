"""The pods' grace periods against what their processes take to stop, rendered with `helm template`.

Kubernetes SIGKILLs a pod its grace period after SIGTERM. The chart derives each grace period from
the settings that bound the process's stop, as the process reads them from the ConfigMap, so an
operator who raises one (config.extraEnv) raises the grace period with it."""

import math

import pytest
import yaml

from chart_support import CHART, RELEASE, SCENARIOS, by_kind_and_name, helm, render
from microdash_api.server import GRACEFUL_SHUTDOWN_SECONDS
from microdash_core.queues import notify_job_timeout
from microdash_core.settings import Settings

SLACK_SECONDS = 10  # values.yaml terminationGraceSlackSeconds


def _grace_periods(docs) -> dict[str, int]:
    named = by_kind_and_name(docs)
    return {name: named[(kind, f"{RELEASE}-microdash-{name}")]["spec"]["template"]["spec"]
            ["terminationGracePeriodSeconds"] for kind, name in
            (("Deployment", "api"), ("Deployment", "worker"), ("StatefulSet", "bridge"))}


def _settings_of(docs) -> Settings:
    """The settings every server process reads from the rendered ConfigMap (in development, which
    needs no secrets: the environment changes no timeout)."""
    data = by_kind_and_name(docs)[("ConfigMap", f"{RELEASE}-microdash-config")]["data"]
    options = {name.removeprefix("MICRODASH_").lower(): value for name, value in data.items()}
    return Settings(**{**options, "environment": "development"})


def _api_pre_stop_sleep(docs) -> int:
    """The api container's preStop sleep: the grace period counts from its start."""
    container = by_kind_and_name(docs)[("Deployment", f"{RELEASE}-microdash-api")]["spec"]["template"]["spec"][
        "containers"][0]
    return container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)


def _longest_stops(settings: Settings, api_pre_stop: int) -> dict[str, float]:
    """The longest each pod may take from its deletion until its process exits on its own."""
    return {"api": api_pre_stop + GRACEFUL_SHUTDOWN_SECONDS, "bridge": settings.bridge_stop_timeout_seconds,
            "worker": max(settings.ingest_job_timeout_seconds, notify_job_timeout(settings))}


def _assert_every_stop_fits(docs, slack: int = SLACK_SECONDS) -> dict[str, int]:
    grace = _grace_periods(docs)
    stops = _longest_stops(_settings_of(docs), _api_pre_stop_sleep(docs))
    assert grace == {name: math.ceil(stop) + slack for name, stop in stops.items()}
    return grace


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_stop_fits_in_its_pods_grace_period(scenario):
    _assert_every_stop_fits(render(SCENARIOS[scenario]))


def test_the_defaults_keep_the_bridge_at_kubernetes_own_30_s_and_the_worker_past_its_slowest_job():
    assert _assert_every_stop_fits(render(SCENARIOS["default"])) == {"api": 20, "bridge": 30, "worker": 50}


def test_a_longer_stop_set_in_extra_env_lengthens_the_grace_period_with_it():
    docs = render(SCENARIOS["default"], extra=(
        "--set-string", "config.extraEnv.MICRODASH_BRIDGE_STOP_TIMEOUT_SECONDS=40.5",
        "--set-string", "config.extraEnv.MICRODASH_INGEST_JOB_TIMEOUT_SECONDS=120"))
    assert _assert_every_stop_fits(docs) == {"api": 20, "bridge": 51, "worker": 130}
    docs = render(SCENARIOS["default"], extra=("--set-string", "config.extraEnv.MICRODASH_NOTIFY_TIMEOUT_SECONDS=25"))
    assert _assert_every_stop_fits(docs)["worker"] == 25 * 3 + 10 + SLACK_SECONDS


def test_the_slack_is_a_value_and_the_schema_bounds_it(tmp_path):
    docs = render(SCENARIOS["default"], extra=("--set", "terminationGraceSlackSeconds=25"))
    assert _assert_every_stop_fits(docs, slack=25)["bridge"] == 45
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump({"terminationGraceSlackSeconds": 0}))
    result = helm("template", RELEASE, str(CHART), "--kube-version", "1.35.4", "--values", str(bad), check=False)
    assert result.returncode != 0 and "at '/terminationGraceSlackSeconds'" in result.stderr


def test_the_api_keeps_serving_through_its_pre_stop_sleep_and_it_can_be_turned_off():
    docs = render(SCENARIOS["default"])
    assert _api_pre_stop_sleep(docs) == 5
    docs = render(SCENARIOS["default"], extra=("--set", "api.preStopSleepSeconds=0"))
    assert _api_pre_stop_sleep(docs) == 0
    assert _assert_every_stop_fits(docs)["api"] == 15
    docs = render(SCENARIOS["default"], extra=("--set", "api.preStopSleepSeconds=30"))
    assert _assert_every_stop_fits(docs)["api"] == 45
