"""The chart on a real single-node cluster (scenario `cluster`; issue 14's figures): a cold image
build, the node's start from cache, `helm install --wait` until every pod is Ready, a Tenant's apply
until its first sample is queryable through the api Service, and each pod's memory at rest.

It drives the end-to-end tests' own node and release code (tests/cluster/kubenode.py, release.py).
Needs root, and the machine to itself: run it under `flock /tmp/microdash-podman.lock`, like the
cluster tests.

The cold build runs scripts/build-images.sh against a throwaway podman storage and image cache:
debootstrap, every base image, npm ci, uv sync and the vite build all run again, and nothing of it
touches the images the node then uses (those are the cached `make images`).
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cluster"))

import kubenode  # noqa: E402
from nodebase import run  # noqa: E402
from nodehost import unmount_under  # noqa: E402
from release import Release  # noqa: E402

RELEASE, NAMESPACE, TENANT = "bench", "microdash-bench", "bench"
REST_SECONDS = 30.0


def run_cluster(*, cold_build: bool, say) -> dict:
    figures: dict = {}
    if cold_build:
        say("cluster: cold image build (throwaway storage)")
        figures["image_build_cold_s"] = round(measure_cold_build(), 1)
    started = time.monotonic()
    images = kubenode.build_images()
    figures["image_build_cached_s"] = round(time.monotonic() - started, 1)
    with tempfile.TemporaryDirectory(prefix="microdash-bench-node-") as workdir:
        say("cluster: starting the node")
        started = time.monotonic()
        node = kubenode.start_cluster(Path(workdir), images=images)
        figures["start_from_cache_s"] = round(time.monotonic() - started, 1)
        try:
            figures.update(measure_release(Release(node, RELEASE, NAMESPACE), say))
        finally:
            say("cluster: stopping the node")
            kubenode.stop_cluster()
    return {"cluster": figures}


def measure_release(release: Release, say) -> dict:
    say("cluster: helm install --wait")
    figures = {"helm_install_wait_s": round(release.install(), 1)}
    started = time.monotonic()
    release.wait_agent_ready()
    figures["helm_install_until_agent_ready_s"] = round(figures["helm_install_wait_s"]
                                                        + time.monotonic() - started, 1)
    started = time.monotonic()
    credentials = release.apply_tenant(TENANT)
    release.post_and_read_back(credentials["token"], "bench.first", 1.0)
    figures["tenant_apply_to_first_sample_s"] = round(time.monotonic() - started, 1)
    say(f"cluster: {REST_SECONDS:.0f} s at rest, then each pod's memory")
    time.sleep(REST_SECONDS)
    memory, _ = release.pod_memory_mib()
    components = {pod["metadata"]["name"]: pod["metadata"]["labels"].get("app.kubernetes.io/component", "?")
                  for pod in release.get("pod")["items"]}
    by_component: dict[str, list[float]] = {}
    for pod, mib in sorted(memory.items()):
        by_component.setdefault(components.get(pod, pod), []).append(round(mib, 1))
    figures["pod_memory_mib"] = by_component
    figures["pod_memory_mib_total"] = round(sum(memory.values()), 1)
    return figures


def measure_cold_build() -> float:
    """Seconds scripts/build-images.sh takes with an empty podman storage and an empty image cache."""
    root = Path(tempfile.mkdtemp(prefix="microdash-cold-build-", dir="/var/tmp"))
    storage = root / "storage.conf"
    storage.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n')
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(storage), "MICRODASH_IMAGE_CACHE": str(root / "cache")}
    try:
        started = time.monotonic()
        kubenode.build_images(env=env)
        return time.monotonic() - started
    finally:
        run(["podman", "rmi", "--all", "--force"], env=env, check=False)
        unmount_under([root])
        shutil.rmtree(root, ignore_errors=True)
