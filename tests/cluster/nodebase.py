"""What every part of the single-node cluster (kubenode.py) shares: where it lives on this machine,
its addresses and names, the Cluster handle, and running commands."""

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = Path("/run/microdash-node")
STATE_FILE = STATE_DIR / "state.json"
# containerd's content and snapshots stay between runs, so imported images are not imported again
PERSISTENT_DIR = Path.home() / ".cache" / "microdash" / "node"
NODE_NAME = "microdash-node"
NODE_IP = "10.231.0.1"
NODE_LINK = "mdnode0"
BRIDGE = "mdcni0"
CNI_NETWORK = "microdash"  # the conflist's name; the CNI plugins tag their iptables rules with it
POD_CIDR = "10.232.0.0/24"
SERVICE_CIDR = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_IP = "10.96.0.10"
KUBELET_PORT = 10250
FORWARD_CHAIN = "MICRODASH-NODE"
# Chains the node may make (nodechains.py removes the ones it made)
CHAIN_PREFIXES = ("KUBE-", "CNI-", FORWARD_CHAIN)
PAUSE_IMAGE = "localhost/microdash-node/pause:3.10"
COREDNS_IMAGE = "localhost/microdash-node/coredns:v1.15.0"
START_TIMEOUT_SECONDS = 120
# Made by containerd and the CNI plugins (network namespaces, cached results); removed on stop when
# they were not there before.
RUNTIME_DIRS = [Path("/run/netns"), Path("/var/lib/cni")]
# Changed by the kubelet, kube-proxy or this module; restored on stop.
SYSCTLS = [
    "net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
    "vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops", "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes", "net.ipv4.conf.all.route_localnet",
    "net.netfilter.nf_conntrack_tcp_timeout_established", "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
    "net.netfilter.nf_conntrack_max",
]
COMPONENT_USERS = {
    "admin": "admin", "kubelet": f"system:node:{NODE_NAME}", "scheduler": "system:kube-scheduler",
    "controller-manager": "system:kube-controller-manager", "kube-proxy": "system:kube-proxy",
}




@dataclass
class Cluster:
    workdir: Path
    bin_dir: Path
    server: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfigs" / "admin.kubeconfig"

    @property
    def helm_binary(self) -> Path:
        return self.bin_dir / "helm"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(self.workdir / "helm-cache"),
                "HELM_CONFIG_HOME": str(self.workdir / "helm-config"),
                "HELM_DATA_HOME": str(self.workdir / "helm-data")}

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
        return run([str(self.bin_dir / "kubectl"), *args], check=check, input=input, env=self.env(),
                    timeout=timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return run([str(self.helm_binary), *args], check=check, env=self.env(), timeout=timeout)

    def add_volumes(self, count: int, size: str, storage_class: str = "") -> None:
        """`local` PersistentVolumes of one size, bound by any claim of `storage_class` that fits
        ("": claims without a StorageClass)."""
        documents = []
        for _ in range(count):
            name = f"local-{storage_class or 'none'}-{size.lower()}-{os.urandom(3).hex()}"
            path = self.workdir / "volumes" / name
            path.mkdir(parents=True)
            documents.append({
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                         "persistentVolumeReclaimPolicy": "Retain", "local": {"path": str(path)},
                         "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE_NAME]}]}]}}},
            })
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(documents))


def run(argv: list[str], *, check: bool = True, input: str | None = None, env: dict | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, input=input, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result


def ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["ctr", "--address", str(STATE_DIR / "containerd.sock"), *args], check=check)


def wait_until(cluster: Cluster, what: str, check) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    last_error = ""
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}); see {cluster.workdir / 'logs' / name}.log")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError) as error:
            last_error = repr(error)
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not after {START_TIMEOUT_SECONDS} s {last_error}; logs in {cluster.workdir / 'logs'}")


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    return {name: sysctl_path(name).read_text().strip() for name in SYSCTLS if sysctl_path(name).exists()}


def write_sysctl(name: str, value: str) -> None:
    path = sysctl_path(name)
    if path.exists() and path.read_text().strip() != value:
        path.write_text(value)


def root_is_shared() -> bool:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return any(f.startswith("shared:") for f in fields[6:fields.index("-")])
    return False
