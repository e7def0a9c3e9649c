"""The node's certificates, service-account keys, component tokens and kubeconfigs (kubenode.py)."""

import json
import os
from pathlib import Path

import yaml

from nodebase import COMPONENT_USERS, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, Cluster, run


def make_pki(workdir: Path) -> dict[str, Path]:
    pki = workdir / "pki"
    pki.mkdir(exist_ok=True)
    paths = {name: pki / name for name in ("ca.crt", "ca.key", "sa.key", "sa.pub", "apiserver.crt", "apiserver.key",
                                           "kubelet.crt", "kubelet.key", "apiserver-kubelet.crt",
                                           "apiserver-kubelet.key", "tokens.csv")}
    openssl = ["openssl"]
    run([*openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7", "-subj", "/CN=microdash-node-ca",
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
          "-keyout", str(paths["ca.key"]), "-out", str(paths["ca.crt"])])
    run([*openssl, "genrsa", "-out", str(paths["sa.key"]), "2048"])
    run([*openssl, "rsa", "-in", str(paths["sa.key"]), "-pubout", "-out", str(paths["sa.pub"])])
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
    run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key),
          "-out", str(csr)])
    alt = [f"DNS:{n}" for n in server_names] + [f"IP:{ip}" for ip in server_ips]
    usage = "serverAuth" if alt else "clientAuth"
    extensions = cert.with_suffix(".ext")
    extensions.write_text(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                          + (f"subjectAltName={','.join(alt)}\n" if alt else ""))
    run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(paths["ca.crt"]), "-CAkey", str(paths["ca.key"]),
          "-CAcreateserial", "-days", "7", "-extfile", str(extensions), "-out", str(cert)])


def write_kubeconfigs(cluster: Cluster, pki: dict[str, Path]) -> None:
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
