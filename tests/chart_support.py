"""Rendering the Helm chart and talking about what it renders, for tests/test_chart*.py."""

import os
import shutil
import subprocess
import threading
import time
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "microdash"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
SCENARIOS = {path.name.removesuffix("-values.yaml"): path for path in CI_VALUES}
KUBE_VERSION = "1.35.4"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
RELEASE = "md"


@lru_cache
def helm_binary() -> Path:
    from kubeapi import kube_bin_dir

    return kube_bin_dir() / "helm"


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, check=check)


def render(values: Path | None = None, *, namespace: str = "microdash", release: str = RELEASE,
           extra: tuple[str, ...] = ()) -> list[dict]:
    """`helm template` of the chart (hooks and test hooks included), parsed."""
    args = ["template", release, str(CHART), "--kube-version", KUBE_VERSION, "--namespace", namespace, *extra]
    if values is not None:
        args += ["--values", str(values)]
    return [doc for doc in yaml.safe_load_all(helm(*args).stdout) if doc]


def pod_spec(doc: dict) -> dict | None:
    if doc["kind"] == "Pod":
        return doc["spec"]
    if doc["kind"] in WORKLOAD_KINDS:
        return doc["spec"]["template"]["spec"]
    return None


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc) or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def by_kind_and_name(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def component(doc: dict) -> str | None:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component")


class _Completer:
    """Plays a missing controller in a background thread: every 0.3 s, whatever `_pending()` lists
    is marked finished by `_finish()` (once)."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self.completed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for item in self._pending():
                if item.metadata.name not in self.completed:
                    self._finish(item, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                    self.completed.append(item.metadata.name)
            time.sleep(0.3)

    def _pending(self) -> list:
        raise NotImplementedError

    def _finish(self, item, now: str) -> None:
        raise NotImplementedError


class JobCompleter(_Completer):
    """Plays the job controller, which this control plane lacks: marks the Jobs of one namespace
    as succeeded, so that `helm install` gets past its hook Jobs (Helm waits for them)."""

    def __init__(self, api_client, namespace: str):
        import kubernetes

        super().__init__(namespace)
        self.batch = kubernetes.client.BatchV1Api(api_client)

    def _pending(self) -> list:
        return [job for job in self.batch.list_namespaced_job(self.namespace).items if not job.status.conditions]

    def _finish(self, job, now: str) -> None:
        self.batch.patch_namespaced_job_status(job.metadata.name, self.namespace, {"status": job_status(True, now)})


def job_status(succeeded: bool, now: str) -> dict:
    """A finished Job's status as the job controller writes it."""
    if succeeded:
        kinds, reason, counts = ("SuccessCriteriaMet", "Complete"), "CompletionsReached", {"succeeded": 1, "failed": 0}
    else:
        kinds, reason, counts = ("FailureTarget", "Failed"), "BackoffLimitExceeded", {"succeeded": 0, "failed": 1}
    conditions = [{"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                   "reason": reason, "message": "finished as the test says"} for kind in kinds]
    return {"startTime": now, **({"completionTime": now} if succeeded else {}), **counts, "active": 0, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {}, "conditions": conditions}


class DaemonSetReporter(_Completer):
    """Plays the DaemonSet controller on a cluster of `nodes` nodes: reports every DaemonSet of one
    namespace as rolled out to all of them, `ready` of their pods Ready."""

    def __init__(self, api_client, namespace: str, *, nodes: int, ready: int):
        import kubernetes

        super().__init__(namespace)
        self.apps = kubernetes.client.AppsV1Api(api_client)
        self.nodes, self.ready = nodes, ready

    def _pending(self) -> list:
        return self.apps.list_namespaced_daemon_set(self.namespace).items

    def _finish(self, daemonset, now: str) -> None:
        counts = {"desiredNumberScheduled": self.nodes, "currentNumberScheduled": self.nodes,
                  "updatedNumberScheduled": self.nodes, "numberMisscheduled": 0, "numberReady": self.ready,
                  "numberAvailable": self.ready, "numberUnavailable": self.nodes - self.ready}
        self.apps.patch_namespaced_daemon_set_status(daemonset.metadata.name, self.namespace, {"status": {
            "observedGeneration": daemonset.metadata.generation, **counts}})


class PodCompleter(_Completer):
    """Plays the kubelet for `helm test`: marks the Pods of one namespace as succeeded (their
    script itself is run against a real stack by test_chart_containers.py)."""

    def __init__(self, api_client, namespace: str):
        import kubernetes

        super().__init__(namespace)
        self.core = kubernetes.client.CoreV1Api(api_client)

    def _pending(self) -> list:
        return self.core.list_namespaced_pod(self.namespace).items

    def _finish(self, pod, now: str) -> None:
        statuses = [{"name": container.name, "image": container.image, "imageID": "", "ready": False,
                     "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                 "startedAt": now, "finishedAt": now}}}
                    for container in pod.spec.containers]
        self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {"status": {
            "phase": "Succeeded", "startTime": now, "containerStatuses": statuses}})


class HookRunner(_Completer):
    """Plays the kubelet for hook Jobs: runs each Job's container command here, as `microdash`,
    authenticated as the Job's ServiceAccount, and reports the Job succeeded or failed by its exit code."""

    def __init__(self, plane, namespace: str, workdir: Path):
        import kubernetes

        super().__init__(namespace)
        self.plane, self.workdir = plane, workdir
        self.client = plane.api_client()
        self.batch = kubernetes.client.BatchV1Api(self.client)
        self.results: dict[str, subprocess.CompletedProcess] = {}

    def __exit__(self, *exc_info) -> None:
        super().__exit__(*exc_info)
        self.client.close()

    def _pending(self) -> list:
        return [job for job in self.batch.list_namespaced_job(self.namespace).items if not job.status.conditions]

    def _finish(self, job, now: str) -> None:
        from operator_support import service_account_kubeconfig

        pod = job.spec.template.spec
        [container] = pod.containers
        kubeconfig = service_account_kubeconfig(self.plane, self.namespace, pod.service_account_name,
                                                self.workdir / f"{job.metadata.name}.kubeconfig")
        base = {key: value for key, value in os.environ.items() if not key.startswith("MICRODASH_")}
        env = {**base, **{item.name: item.value for item in container.env or []}, "KUBECONFIG": str(kubeconfig)}
        result = subprocess.run([shutil.which("microdash"), *container.args], env=env, capture_output=True, text=True,
                                timeout=job.spec.active_deadline_seconds)
        self.results[job.metadata.name] = result
        (self.workdir / f"{job.metadata.name}.log").write_text(f"exit {result.returncode}\n{result.stdout}{result.stderr}")
        self.batch.patch_namespaced_job_status(job.metadata.name, self.namespace,
                                               {"status": job_status(result.returncode == 0, now)})


def read_yaml(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
