#!/usr/bin/env bash
# Installs what `make images` and `make cluster` need from Debian, only what is missing: podman and
# buildah (image builds), containerd, runc and the CNI plugins (the node), debootstrap (base
# images), conntrack and iptables (kube-proxy), and the CNI dnsname plugin (podman's CNI networks
# resolve compose.yaml's service names with it). Retries while another apt holds the lock.
set -euo pipefail

PACKAGES=(podman buildah runc containerd debootstrap fuse-overlayfs slirp4netns uidmap
          containernetworking-plugins golang-github-containernetworking-plugin-dnsname conntrack iptables)
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-node-tools: installing ${missing[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
for attempt in $(seq 1 60); do
    # The packages try to start their services; nothing here uses them (the cluster starts its own containerd).
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        exit 0
    fi
    echo "install-node-tools: apt busy or failed (attempt $attempt), retrying in 10 s" >&2
    sleep 10
done
exit 1
