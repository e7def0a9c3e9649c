#!/usr/bin/env bash
# The rest of a single-node cluster (`make cluster`, tests/cluster/), next to what build-kube.sh
# builds and in the same versioned cache: kubelet, kube-scheduler, kube-controller-manager,
# kube-proxy and kubectl from build-kube.sh's wrapper module of k8s.io/kubernetes, CoreDNS from the
# Go module proxy, and a pause program; then the two images the node needs (`FROM scratch`,
# localhost/microdash-node/...). Builds only what is missing; prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

CACHE=$(scripts/build-kube.sh)
KUBE_VERSION=${KUBE_VERSION:-v1.35.4}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
PAUSE_VERSION=3.10
export CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
export CONTAINERS_CONF=$REPO/scripts/images/podman/containers.conf
NODE_COMMANDS="kubelet kube-scheduler kube-controller-manager kube-proxy kubectl"

build_node_commands() {
    local work="$CACHE/src-apiserver" minor
    minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
    cd "$work"
    {
        printf 'package tools\n\nimport (\n'
        for command in $NODE_COMMANDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$command"; done
        printf ')\n'
    } > tools_node.go
    go mod tidy >/dev/null
    local flags=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags="$flags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    done
    for command in $NODE_COMMANDS; do
        [ -x "$CACHE/$command" ] || go build -ldflags "$flags" -o "$CACHE/$command" "k8s.io/kubernetes/cmd/$command"
    done
    cd "$REPO"
}

build_pause() {
    local work="$CACHE/src-pause"
    mkdir -p "$work"
    cp scripts/images/pause/main.go "$work/main.go"
    (cd "$work" && { [ -f go.mod ] || go mod init microdash.local/pause >/dev/null 2>&1; } && go build -o "$CACHE/pause" .)
}

# scratch_image NAME BINARY COMMAND: an image holding one static binary as /COMMAND, its entry point
scratch_image() {
    local name=$1 binary=$2 command=$3
    podman image exists "$name" && return
    local context
    context=$(mktemp -d)
    cp "$binary" "$context/$command"
    printf 'FROM scratch\nCOPY %s /%s\nUSER 65534:65534\nENTRYPOINT ["/%s"]\n' "$command" "$command" "$command" \
        > "$context/Containerfile"
    podman build --pull=never -t "$name" "$context" >/dev/null
    rm -rf "$context"
}

for command in $NODE_COMMANDS; do
    [ -x "$CACHE/$command" ] || { build_node_commands; break; }
done
[ -x "$CACHE/coredns-$COREDNS_VERSION" ] || {
    GOBIN="$CACHE/gobin" go install "github.com/coredns/coredns@$COREDNS_VERSION"
    mv "$CACHE/gobin/coredns" "$CACHE/coredns-$COREDNS_VERSION" && rmdir "$CACHE/gobin"
}
[ -x "$CACHE/pause" ] || build_pause
scratch_image "localhost/microdash-node/pause:$PAUSE_VERSION" "$CACHE/pause" pause
scratch_image "localhost/microdash-node/coredns:$COREDNS_VERSION" "$CACHE/coredns-$COREDNS_VERSION" coredns
echo "$CACHE"
