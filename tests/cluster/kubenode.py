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
POD_CIDR = "10.232.0.0/24"
SERVICE_CIDR = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_IP = "10.96.0.10"
KUBELET_PORT = 10250
FORWARD_CHAIN = "MICRODASH-NODE"
CHAIN_PREFIXES = ("KUBE-", "CNI-", FORWARD_CHAIN)
PAUSE_IMAGE = "localhost/microdash-node/pause:3.10"
COREDNS_IMAGE = "localhost/microdash-node/coredns:v1.15.0"
START_TIMEOUT_SECONDS = 120
# Made by containerd and the CNI plugins (network namespaces, cached results); removed on stop when
# they were not there before.
# Figures of a test session (tests/cluster/conftest.py prints them; docs/kubernetes.md quotes them).
TIMINGS: dict[str, float] = {}
POD_MEMORY_MIB: dict[str, float] = {}
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
        return _run([str(self.bin_dir / "kubectl"), *args], check=check, input=input, env=self.env(),
                    timeout=timeout)

    def helm(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return _run([str(self.helm_binary), *args], check=check, env=self.env(), timeout=timeout)

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


# ---- start -------------------------------------------------------------------------------------------------------

def build_images(env: dict[str, str] | None = None) -> list[str]:
    """scripts/build-images.sh (`make images`, cached); returns the images the chart needs."""
    return _run([str(REPO / "scripts" / "build-images.sh")], env=env, timeout=3600).stdout.split()


def start_cluster(workdir: Path, *, images: list[str]) -> Cluster:
    """Starts the node and imports `images` (podman names) into containerd; cleans up a crashed run first."""
    if STATE_FILE.exists():
        owner = json.loads(STATE_FILE.read_text()).get("owner")
        if owner and owner != os.getpid() and _alive(owner):
            raise RuntimeError(f"a cluster started by pid {owner} is running (one per machine); "
                               "`make cluster-down` stops it")
        stop_cluster()
    bin_dir = Path(_run([str(REPO / "scripts" / "build-node.sh")]).stdout.strip().splitlines()[-1])
    _start_afresh(workdir)
    cluster = Cluster(workdir=workdir, bin_dir=bin_dir)
    _save_state({"owner": os.getpid(), "workdir": str(workdir), "bin_dir": str(bin_dir), "pids": {}, "sysctls": _read_sysctls(),
                 "root_shared": _root_is_shared(),
                 "created_dirs": [str(path) for path in RUNTIME_DIRS if not path.exists()]})
    try:
        _prepare_host()
        pki = _make_pki(workdir)
        _write_kubeconfigs(cluster, pki)
        _spawn(cluster, "containerd", ["containerd", "--config", str(_write_containerd_config(workdir))])
        etcd_url = _start_etcd(cluster)
        _start_apiserver(cluster, pki, etcd_url)
        with ThreadPoolExecutor(max_workers=2) as pool:
            imported = pool.submit(_import_images, cluster, [PAUSE_IMAGE, COREDNS_IMAGE, *images])
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


def _prepare_host() -> None:
    # A bridge without ports stands in for a dummy interface (this kernel has no dummy driver).
    _run(["ip", "link", "add", NODE_LINK, "type", "bridge"])
    _run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", NODE_LINK])
    _run(["ip", "link", "set", NODE_LINK, "up"])
    # Service addresses without a kube-proxy rule end on that link, not on the default route.
    _run(["ip", "route", "add", SERVICE_CIDR, "dev", NODE_LINK, "src", NODE_IP])
    for name in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
        _write_sysctl(name, "1")
    # Forwarding is on for the pods' sake only: pod traffic may go back to the bridge, nowhere else.
    _run(["iptables", "-N", FORWARD_CHAIN])
    _run(["iptables", "-A", FORWARD_CHAIN, "-s", POD_CIDR, "!", "-o", BRIDGE, "-j", "DROP"])
    _run(["iptables", "-I", "FORWARD", "-j", FORWARD_CHAIN])
    # The agent mounts the host's / with HostToContainer propagation, which needs a shared mount.
    if not _root_is_shared():
        _run(["mount", "--make-shared", "/"])
    for path in (STATE_DIR, PERSISTENT_DIR / "containerd"):
        path.mkdir(parents=True, exist_ok=True)


def _make_pki(workdir: Path) -> dict[str, Path]:
    pki = workdir / "pki"
    pki.mkdir(exist_ok=True)
    paths = {name: pki / name for name in ("ca.crt", "ca.key", "sa.key", "sa.pub", "apiserver.crt", "apiserver.key",
                                           "kubelet.crt", "kubelet.key", "apiserver-kubelet.crt",
                                           "apiserver-kubelet.key", "tokens.csv")}
    openssl = ["openssl"]
    _run([*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7", "-subj", "/CN=microdash-node-ca",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
          "-keyout", str(paths["ca.key"]), "-out", str(paths["ca.crt"])])
    _run([*openssl, "genrsa", "-out", str(paths["sa.key"]), "2048"])
    _run([*openssl, "rsa", "-in", str(paths["sa.key"]), "-pubout", "-out", str(paths["sa.pub"])])
    api_names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
                 "localhost"]
    api_ips = [KUBERNETES_SERVICE_IP, NODE_IP, "127.0.0.1"]
    _sign(paths, "apiserver", "/CN=kube-apiserver", server_names=api_names, server_ips=api_ips)
    _sign(paths, "kubelet", f"/CN={NODE_NAME}", server_names=[NODE_NAME], server_ips=[NODE_IP])
    _sign(paths, "apiserver-kubelet", "/O=system:masters/CN=kube-apiserver-kubelet-client")
    tokens = {component: os.urandom(16).hex() for component in COMPONENT_USERS}
    lines = [f'{tokens[c]},{user},{user},"system:masters,system:nodes"' if c == "kubelet"
             else f'{tokens[c]},{user},{user},"system:masters"' for c, user in COMPONENT_USERS.items()]
    paths["tokens.csv"].write_text("\n".join(lines) + "\n")
    (pki / "tokens.json").write_text(json.dumps(tokens))
    return paths


def _sign(paths: dict[str, Path], name: str, subject: str, *, server_names: list[str] = (),
          server_ips: list[str] = ()) -> None:
    key, csr, cert = paths[f"{name}.key"], paths[f"{name}.crt"].with_suffix(".csr"), paths[f"{name}.crt"]
    _run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key),
          "-out", str(csr)])
    alt = [f"DNS:{n}" for n in server_names] + [f"IP:{ip}" for ip in server_ips]
    usage = "serverAuth" if alt else "clientAuth"
    extensions = cert.with_suffix(".ext")
    extensions.write_text(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                          + (f"subjectAltName={','.join(alt)}\n" if alt else ""))
    _run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(paths["ca.crt"]), "-CAkey", str(paths["ca.key"]),
          "-CAcreateserial", "-days", "7", "-extfile", str(extensions), "-out", str(cert)])


def _write_kubeconfigs(cluster: Cluster, pki: dict[str, Path]) -> None:
    from microdash_cli.localstack import free_port

    cluster.server = f"https://{NODE_IP}:{free_port()}"
    tokens = json.loads((pki["ca.crt"].parent / "tokens.json").read_text())
    directory = cluster.workdir / "kubeconfigs"
    directory.mkdir(exist_ok=True)
    for component, token in tokens.items():
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": component,
            "clusters": [{"name": "microdash-node", "cluster": {"server": cluster.server,
                                                                 "certificate-authority": str(pki["ca.crt"])}}],
            "users": [{"name": component, "user": {"token": token}}],
            "contexts": [{"name": component, "context": {"cluster": "microdash-node", "user": component}}],
        }
        (directory / f"{component}.kubeconfig").write_text(yaml.safe_dump(config))


def _write_containerd_config(workdir: Path) -> Path:
    cni = workdir / "cni"
    cni.mkdir(exist_ok=True)
    (cni / "10-microdash.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "microdash",
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

    _wait(cluster, "kube-apiserver ready", ready)


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

    _wait(cluster, "node Ready", ready)


def _deploy_addons(cluster: Cluster) -> None:
    manifest = (Path(__file__).with_name("coredns.yaml").read_text()
                .replace("COREDNS_IMAGE", COREDNS_IMAGE).replace("DNS_IP", DNS_IP))
    cluster.kubectl("apply", "-f", "-", input=manifest)
    for size, count in (("1Gi", 6), ("2Gi", 4), ("8Gi", 4)):
        cluster.add_volumes(count, size)
    cluster.kubectl("-n", "kube-system", "rollout", "status", "deployment/coredns", f"--timeout={START_TIMEOUT_SECONDS}s")


def _import_images(cluster: Cluster, images: list[str]) -> None:
    """`podman save` into containerd's k8s.io namespace, skipping images already there at the same id."""
    marks = PERSISTENT_DIR / "imported"
    marks.mkdir(parents=True, exist_ok=True)
    _wait(cluster, "containerd", lambda: _ctr("version", check=False).returncode == 0)
    present = set(_ctr("-n", "k8s.io", "images", "ls", "-q").stdout.split())
    env = {**os.environ, "CONTAINERS_CONF": str(REPO / "scripts" / "images" / "podman" / "containers.conf")}
    for image in images:
        image_id = _run(["podman", "image", "inspect", "--format", "{{.Id}}", image], env=env).stdout.strip()
        mark = marks / image.replace("/", "_").replace(":", "_")
        if image in present and mark.exists() and mark.read_text() == image_id:
            continue
        archive = cluster.workdir / "image.tar"
        _run(["podman", "save", "--format", "docker-archive", "-o", str(archive), image], env=env)
        _ctr("-n", "k8s.io", "images", "import", str(archive))
        archive.unlink()
        mark.write_text(image_id)


def _ctr(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["ctr", "--address", str(STATE_DIR / "containerd.sock"), *args], check=check)


# ---- stop --------------------------------------------------------------------------------------------------------

def stop_cluster() -> None:
    """Stops what STATE_FILE names and puts the host back; safe to run twice or after a crash."""
    if not STATE_FILE.exists():
        return
    state = json.loads(STATE_FILE.read_text())
    workdir, bin_dir = Path(state["workdir"]), Path(state["bin_dir"])
    pids = {name: pid for name, pid in state["pids"].items() if _runs(pid, name)}
    _stop_pid(pids.pop("kubelet", None))
    _kill_containers()
    for name in ("kube-proxy", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "containerd"):
        _stop_pid(pids.pop(name, None))
    _kill_shims()
    if (bin_dir / "kube-proxy").exists():
        _run([str(bin_dir / "kube-proxy"), "--cleanup", "--proxy-mode=iptables"], check=False)
    _remove_chains()
    _unmount_under([workdir, STATE_DIR, PERSISTENT_DIR, Path("/run/netns"), Path("/var/run/netns")])
    for link in (BRIDGE, NODE_LINK):
        _run(["ip", "link", "delete", link], check=False)
    _remove_pod_cgroups()
    for name, value in state["sysctls"].items():
        _write_sysctl(name, value)
    if not state["root_shared"] and _root_is_shared():
        _run(["mount", "--make-private", "/"])
    shutil.rmtree(workdir / "volumes", ignore_errors=True)
    shutil.rmtree(workdir / "kubelet", ignore_errors=True)
    for directory in state["created_dirs"]:
        shutil.rmtree(directory, ignore_errors=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)


def _stop_pid(pid: int | None, timeout: float = 20) -> None:
    if not pid or not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _runs(pid: int, command: str) -> bool:
    """The pid still runs `command`: after a crash and a reboot, a recorded pid may be someone else's."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(argv0.decode(errors="replace")) == command


def _alive(pid: int) -> bool:
    """Running, not a zombie (a zombie child of ours is reaped here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def _kill_containers() -> None:
    """Every container and pod sandbox of the node, removed from containerd (its store outlives the run)."""
    if _ctr("version", check=False).returncode != 0:
        return
    for task in _ctr("-n", "k8s.io", "tasks", "ls", "-q", check=False).stdout.split():
        _ctr("-n", "k8s.io", "tasks", "kill", "-a", "-s", "SIGKILL", task, check=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = _ctr("-n", "k8s.io", "tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            _ctr("-n", "k8s.io", "tasks", "delete", "-f", task, check=False)
        if not tasks:
            break
        time.sleep(0.5)
    containers = _ctr("-n", "k8s.io", "containers", "ls", "-q", check=False).stdout.split()
    if containers:
        _ctr("-n", "k8s.io", "containers", "delete", *containers, check=False)


def _kill_shims() -> None:
    """containerd's shims outlive it by design; ours are the ones started with our socket's address."""
    address = str(STATE_DIR / "containerd.sock")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and address.encode() in argv:
            _stop_pid(int(proc.name), timeout=5)


def _remove_chains() -> None:
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle", "raw"):
            rules = _run([tool, "-t", table, "-S"], check=False).stdout.splitlines()
            ours = [line.split()[1] for line in rules if line.startswith("-N ") and line.split()[1].startswith(CHAIN_PREFIXES)]
            for rule in rules:
                parts = rule.split()
                if parts[0] == "-A" and parts[1] not in ours and any(t in ours for t in parts[2:]):
                    _run([tool, "-t", table, "-D", *parts[1:]], check=False)
            for chain in ours:
                _run([tool, "-t", table, "-F", chain], check=False)
            for chain in ours:
                _run([tool, "-t", table, "-X", chain], check=False)


def _unmount_under(roots: list[Path]) -> None:
    prefixes = tuple(str(root.resolve()) + "/" for root in roots if root.exists())
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in reversed(mounts):
        mount = mount.replace("\\040", " ")
        if mount.startswith(prefixes):
            if _run(["umount", mount], check=False).returncode != 0:
                _run(["umount", "-l", mount], check=False)
    for netns in ("/run/netns", "/var/run/netns"):
        for entry in Path(netns).glob("cni-*"):
            entry.unlink(missing_ok=True)


def _remove_pod_cgroups() -> None:
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for root in (hierarchy / "kubepods", hierarchy / "kubepods.slice"):
            if root.is_dir():
                for directory in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                    if directory.is_dir():
                        _rmdir(directory)
                _rmdir(root)


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


# ---- helpers -----------------------------------------------------------------------------------------------------

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


def _wait(cluster: Cluster, what: str, check) -> None:
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


def _save_state(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    temporary = STATE_FILE.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(STATE_FILE)


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _read_sysctls() -> dict[str, str]:
    return {name: _sysctl_path(name).read_text().strip() for name in SYSCTLS if _sysctl_path(name).exists()}


def _write_sysctl(name: str, value: str) -> None:
    path = _sysctl_path(name)
    if path.exists() and path.read_text().strip() != value:
        path.write_text(value)


def _root_is_shared() -> bool:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return any(f.startswith("shared:") for f in fields[6:fields.index("-")])
    return False


def _run(argv: list[str], *, check: bool = True, input: str | None = None, env: dict | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, input=input, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result


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


if __name__ == "__main__":
    sys.exit(main())
