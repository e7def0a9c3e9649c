"""The project's images for the node (kubenode.py): built by scripts/build-images.sh, imported into
containerd (no registry)."""

import os

from nodebase import PERSISTENT_DIR, REPO, Cluster, ctr, run, wait_until


def build_images(env: dict[str, str] | None = None) -> list[str]:
    """scripts/build-images.sh (`make images`, cached); returns the images the chart needs."""
    return run([str(REPO / "scripts" / "build-images.sh")], env=env, timeout=3600).stdout.split()


def import_images(cluster: Cluster, images: list[str]) -> None:
    """`podman save` into containerd's k8s.io namespace, skipping images already there at the same id."""
    marks = PERSISTENT_DIR / "imported"
    marks.mkdir(parents=True, exist_ok=True)
    wait_until(cluster, "containerd", lambda: ctr("version", check=False).returncode == 0)
    present = set(ctr("-n", "k8s.io", "images", "ls", "-q").stdout.split())
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "scripts" / "images" / "podman" / "containers.conf")}
    for image in images:
        image_id = run(["podman", "image", "inspect", "--format", "{{.Id}}", image], env=env).stdout.strip()
        mark = marks / image.replace("/", "_").replace(":", "_")
        if image in present and mark.exists() and mark.read_text() == image_id:
            continue
        archive = cluster.workdir / "image.tar"
        run(["podman", "save", "--format", "docker-archive", "-o", str(archive), image], env=env)
        ctr("-n", "k8s.io", "images", "import", str(archive))
        archive.unlink()
        mark.write_text(image_id)
