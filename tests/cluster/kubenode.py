"""A real single-node Kubernetes cluster on this machine, for the end-to-end tests and `make cluster`.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and the kubelet (built from
the Go module proxy by scripts/build-kube.sh and scripts/build-node.sh), Debian's containerd, runc and
CNI plugins, CoreDNS, and a pool of `local` PersistentVolumes. No registry: the images made by
scripts/build-images.sh are imported into containerd. Everything listens on this machine only: the
control plane and the kubelet on the address of an interface of their own (NODE_IP) or loopback, pods on a
bridge of their own; forwarded pod traffic may not leave through any other interface.

The host is put back on stop (processes stopped by pid, sysctls and the root mount's propagation
restored, iptables chains, links and mounts removed), and what a crashed run left is cleaned up at
the next start: the state needed for that is kept in STATE_FILE.

Run as root. `python tests/cluster/kubenode.py up` starts one by hand (Ctrl-C stops it);
`python tests/cluster/kubenode.py down` cleans up after a run that could not.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from nodebase import (BRIDGE, CNI_NETWORK, COREDNS_IMAGE, DNS_IP, KUBELET_PORT, NODE_IP, NODE_LINK, NODE_NAME,
                      PAUSE_IMAGE, PERSISTENT_DIR, POD_CIDR, REPO, RUNTIME_DIRS, SERVICE_CIDR, START_TIMEOUT_SECONDS,
                      STATE_DIR, STATE_FILE, Cluster, read_sysctls, root_is_shared, run, wait_until, write_sysctl)
from nodechains import remove_chains, snapshot
from nodehost import alive, kill_containers, kill_shims, prepare_host, remove_pod_cgroups, runs, stop_pid, unmount_under
from nodeimages import build_images, import_images
from nodepki import make_pki, write_kubeconfigs

__all__ = ["NODE_NAME", "POD_MEMORY_MIB", "REPO", "TIMINGS", "Cluster", "build_images", "start_cluster", "stop_cluster",
           "stop_cluster_left_behind"]

# Figures of a test session (tests/cluster/conftest.py prints them; docs/kubernetes.md quotes them).
TIMINGS: dict[str, float] = {}
POD_MEMORY_MIB: dict[str, float] = {}


def stop_cluster_left_behind() -> None:
    """Stops a node a crashed or killed run left behind (the host put back); refuses to touch one
    a live process runs."""
    if STATE_FILE.exists():
        owner = json.loads(STATE_FILE.read_text()).get("owner")
        if owner and owner != os.getpid() and alive(owner):
            raise RuntimeError(f"a cluster started by pid {owner} is running (one per machine); "
                               "`make cluster-down` stops it")
        stop_cluster()


def start_cluster(workdir: Path, *, images: list[str]) -> Cluster:
    """Starts the node and imports `images` (podman names) into containerd; cleans up a crashed run first."""
    stop_cluster_left_behind()
    bin_dir = Path(run([str(REPO / "scripts" / "build-node.sh")]).stdout.strip().splitlines()[-1])
    _start_afresh(workdir)
    cluster = Cluster(workdir=workdir, bin_dir=bin_dir)
    _save_state({"owner": os.getpid(), "workdir": str(workdir), "bin_dir": str(bin_dir), "pids": {}, "sysctls": read_sysctls(),
                 "root_shared": root_is_shared(), "iptables": snapshot(),
                 "created_dirs": [str(path) for path in RUNTIME_DIRS if not path.exists()]})
    try:
        prepare_host()
        pki = make_pki(workdir)
        write_kubeconfigs(cluster, pki)
        _spawn(cluster, "containerd", ["containerd", "--config", str(_write_containerd_config(workdir))])
        etcd_url = _start_etcd(cluster)
        _start_apiserver(cluster, pki, etcd_url)
        with ThreadPoolExecutor(max_workers=2) as pool:
            imported = pool.submit(import_images, cluster, [PAUSE_IMAGE, COREDNS_IMAGE, *images])
            _wait_apiserver(cluster)
            _start_controllers(cluster, pki)
            imported.result()
        _start_kubelet(cluster, pki)
        _wait_node_ready(cluster)
        _deploy_addons(cluster)
    except BaseException:
        stop_cluster()
        raise
    return cluster


def _start_afresh(workdir: Path) -> None:
    """A new cluster each time: nothing of an earlier run's etcd, keys or volumes is reused."""
    for name in ("etcd", "pki", "kubeconfigs", "logs", "volumes", "kubelet", "cni", "cni-ipam", "helm-cache",
                 "helm-config", "helm-data"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)


def _write_containerd_config(workdir: Path) -> Path:
    cni = workdir / "cni"
    cni.mkdir(exist_ok=True)
    (cni / "10-microdash.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": CNI_NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                      "dataDir": str(workdir / "cni-ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }))
    config = workdir / "containerd.toml"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    config.write_text(f"""version = 2
root = "{PERSISTENT_DIR / 'containerd'}"
state = "{STATE_DIR / 'containerd'}"
[grpc]
  address = "{STATE_DIR / 'containerd.sock'}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # no CAP_SYS_RESOURCE on these machines: runc may not lower oom_score_adj below the shim's
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{cni}"
""")
    return config


def _start_etcd(cluster: Cluster) -> str:
    from microdash_cli.localstack import free_port, wait_for_port

    client, peer = free_port(), free_port()
    url = f"http://127.0.0.1:{client}"
    process = _spawn(cluster, "etcd", [
        str(cluster.bin_dir / "etcd"), f"--data-dir={cluster.workdir / 'etcd'}", f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}", f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=default=http://127.0.0.1:{peer}", "--unsafe-no-fsync=true", "--log-level=warn",
    ])
    wait_for_port(client, timeout=START_TIMEOUT_SECONDS, process=process)
    return url


def _start_apiserver(cluster: Cluster, pki: dict[str, Path], etcd_url: str) -> None:
    port = cluster.server.rsplit(":", 1)[1]
    _spawn(cluster, "kube-apiserver", [
        str(cluster.bin_dir / "kube-apiserver"), f"--etcd-servers={etcd_url}", f"--bind-address={NODE_IP}",
        f"--advertise-address={NODE_IP}", f"--secure-port={port}", f"--tls-cert-file={pki['apiserver.crt']}",
        f"--tls-private-key-file={pki['apiserver.key']}", f"--client-ca-file={pki['ca.crt']}",
        f"--token-auth-file={pki['tokens.csv']}", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true", "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki['sa.pub']}", f"--service-account-signing-key-file={pki['sa.key']}",
        f"--kubelet-client-certificate={pki['apiserver-kubelet.crt']}",
        f"--kubelet-client-key={pki['apiserver-kubelet.key']}",
        "--kubelet-preferred-address-types=InternalIP,Hostname", "--profiling=false",
    ])


def _wait_apiserver(cluster: Cluster) -> None:
    token = json.loads((cluster.workdir / "pki" / "tokens.json").read_text())["admin"]
    headers = {"Authorization": f"Bearer {token}"}
    ca = str(cluster.workdir / "pki" / "ca.crt")

    def ready() -> bool:
        with httpx.Client(base_url=cluster.server, headers=headers, verify=ssl.create_default_context(cafile=ca),
                          timeout=2) as client:
            return (client.get("/readyz").status_code == 200
                    and client.get("/api/v1/namespaces/default").status_code == 200)

    wait_until(cluster, "kube-apiserver ready", ready)


def _start_controllers(cluster: Cluster, pki: dict[str, Path]) -> None:
    from microdash_cli.localstack import free_port

    kubeconfigs = cluster.workdir / "kubeconfigs"
    delegated = lambda name: [f"--kubeconfig={kubeconfigs / name}",  # noqa: E731
                              f"--authentication-kubeconfig={kubeconfigs / name}",
                              f"--authorization-kubeconfig={kubeconfigs / name}"]
    _spawn(cluster, "kube-controller-manager", [
        str(cluster.bin_dir / "kube-controller-manager"), *delegated("controller-manager.kubeconfig"),
        "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--leader-elect=false",
        f"--root-ca-file={pki['ca.crt']}", f"--service-account-private-key-file={pki['sa.key']}",
        "--use-service-account-credentials", f"--cluster-signing-cert-file={pki['ca.crt']}",
        f"--cluster-signing-key-file={pki['ca.key']}", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--profiling=false",
    ])
    _spawn(cluster, "kube-scheduler", [
        str(cluster.bin_dir / "kube-scheduler"), *delegated("scheduler.kubeconfig"), "--bind-address=127.0.0.1",
        f"--secure-port={free_port()}", "--leader-elect=false", "--profiling=false",
    ])
    _spawn(cluster, "kube-proxy", [
        str(cluster.bin_dir / "kube-proxy"), f"--kubeconfig={kubeconfigs / 'kube-proxy.kubeconfig'}",
        f"--hostname-override={NODE_NAME}", "--proxy-mode=iptables", f"--cluster-cidr={POD_CIDR}",
        f"--bind-address={NODE_IP}", f"--healthz-bind-address=127.0.0.1:{free_port()}",
        f"--metrics-bind-address=127.0.0.1:{free_port()}", f"--nodeport-addresses={NODE_IP}/32",
        # 0: leave the host's conntrack settings alone
        "--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
    ])


def _start_kubelet(cluster: Cluster, pki: dict[str, Path]) -> None:
    from microdash_cli.localstack import free_port

    config = cluster.workdir / "kubelet.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": NODE_IP, "port": KUBELET_PORT, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": free_port(),
        "tlsCertFile": str(pki["kubelet.crt"]), "tlsPrivateKeyFile": str(pki["kubelet.key"]),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(pki["ca.crt"])}},
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{STATE_DIR / 'containerd.sock'}",
        # Kubernetes 1.35 on these machines' hybrid cgroup v1, without systemd or swap accounting
        "cgroupDriver": "cgroupfs", "failCgroupV1": False, "failSwapOn": False,
        "clusterDNS": [DNS_IP], "clusterDomain": "cluster.local",
        # No registry can give back an image the kubelet's garbage collection removed.
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "serializeImagePulls": False, "rotateCertificates": False,
    }))
    _spawn(cluster, "kubelet", [
        str(cluster.bin_dir / "kubelet"), f"--config={config}",
        f"--kubeconfig={cluster.workdir / 'kubeconfigs' / 'kubelet.kubeconfig'}", f"--hostname-override={NODE_NAME}",
        f"--node-ip={NODE_IP}", f"--root-dir={cluster.workdir / 'kubelet'}", "--v=1",
    ])


def _wait_node_ready(cluster: Cluster) -> None:
    def ready() -> bool:
        result = cluster.kubectl("get", "node", NODE_NAME, "-o",
                                 "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False)
        return result.stdout.strip() == "True"

    wait_until(cluster, "node Ready", ready)


def _deploy_addons(cluster: Cluster) -> None:
    manifest = (Path(__file__).with_name("coredns.yaml").read_text()
                .replace("COREDNS_IMAGE", COREDNS_IMAGE).replace("DNS_IP", DNS_IP))
    cluster.kubectl("apply", "-f", "-", input=manifest)
    for size, count in (("1Gi", 6), ("2Gi", 4), ("8Gi", 4)):
        cluster.add_volumes(count, size)
    cluster.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={START_TIMEOUT_SECONDS}s")


def stop_cluster() -> None:
    """Stops what STATE_FILE names and puts the host back; safe to run twice or after a crash."""
    if not STATE_FILE.exists():
        return
    state = json.loads(STATE_FILE.read_text())
    workdir, bin_dir = Path(state["workdir"]), Path(state["bin_dir"])
    pids = {name: pid for name, pid in state["pids"].items() if runs(pid, name)}
    stop_pid(pids.pop("kubelet", None))
    kill_containers()
    for name in ("kube-proxy", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "containerd"):
        stop_pid(pids.pop(name, None))
    kill_shims()
    if (bin_dir / "kube-proxy").exists():
        run([str(bin_dir / "kube-proxy"), "--cleanup", "--proxy-mode=iptables"], check=False)
    # a state without a snapshot (written before there was one): every chain with the node's prefixes
    remove_chains(state.get("iptables", {}))
    unmount_under([workdir, STATE_DIR, PERSISTENT_DIR, Path("/run/netns"), Path("/var/run/netns")])
    for link in (BRIDGE, NODE_LINK):
        run(["ip", "link", "delete", link], check=False)
    remove_pod_cgroups()
    for name, value in state["sysctls"].items():
        write_sysctl(name, value)
    if not state["root_shared"] and root_is_shared():
        run(["mount", "--make-private", "/"])
    shutil.rmtree(workdir / "volumes", ignore_errors=True)
    shutil.rmtree(workdir / "kubelet", ignore_errors=True)
    for directory in state["created_dirs"]:
        shutil.rmtree(directory, ignore_errors=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)


def _spawn(cluster: Cluster, name: str, argv: list[str]) -> subprocess.Popen:
    logs = cluster.workdir / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        # own session: a Ctrl-C of `make cluster` reaches this module, which stops them in order
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cluster.processes[name] = process
    state = json.loads(STATE_FILE.read_text())
    state["pids"][name] = process.pid
    _save_state(state)
    return process


def _save_state(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    temporary = STATE_FILE.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(STATE_FILE)


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    if command == "down":
        stop_cluster()
        return 0
    workdir = Path(os.environ.get("MICRODASH_CLUSTER_DIR", "/tmp/microdash-cluster"))
    images = build_images()
    started = time.monotonic()
    cluster = start_cluster(workdir, images=images)
    print(f"cluster ready in {time.monotonic() - started:.0f} s\nexport KUBECONFIG={cluster.kubeconfig}\n"
          f"kubectl and helm: {cluster.bin_dir}\nCtrl-C (or `make cluster-down`) stops it", flush=True)
    stop = []
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.append(True))
    while not stop and all(p.poll() is None for p in cluster.processes.values()):
        time.sleep(1)
    stop_cluster()
    return 0
