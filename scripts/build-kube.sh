#!/usr/bin/env bash
# Builds the control-plane binaries the operator tests run against (no container engine here):
# kube-apiserver and etcd from the Go module proxy, plus helm, into a versioned cache outside the
# repo. Builds only what is missing; prints the directory.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.35.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${MICRODASH_KUBE_CACHE:-$HOME/.cache/microdash/k8s/$KUBE_VERSION-etcd$ETCD_VERSION}
mkdir -p "$CACHE"
export CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local

minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
staging="v0.${KUBE_VERSION#v1.}"
STAGING_MODULES="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api cri-client
csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
pod-security-admission sample-apiserver"

build_apiserver() {
    local work="$CACHE/src-apiserver"
    mkdir -p "$work" && cd "$work"
    [ -f go.mod ] || go mod init microdash.local/kube-apiserver-build >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
    for module in $STAGING_MODULES; do
        go mod edit -replace="k8s.io/$module=k8s.io/$module@$staging"
    done
    printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' > tools.go
    go mod tidy >/dev/null
    local stamp="k8s.io/component-base/version" client="k8s.io/client-go/pkg/version"
    local flags=""
    for pkg in $stamp $client; do
        flags="$flags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    done
    go build -ldflags "$flags" -o "$CACHE/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
}

build_etcd() {
    local work="$CACHE/src-etcd"
    mkdir -p "$work" && cd "$work"
    [ -f go.mod ] || go mod init microdash.local/etcd-build >/dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go mod tidy >/dev/null
    go build -o "$CACHE/etcd" go.etcd.io/etcd/server/v3
}

build_helm() {
    GOBIN="$CACHE" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

[ -x "$CACHE/etcd" ] || build_etcd
[ -x "$CACHE/kube-apiserver" ] || build_apiserver
[ -x "$CACHE/helm" ] || build_helm
echo "$CACHE"
