#!/usr/bin/env bash
# Installs what microdash needs on a Debian machine, only what is missing:
# MariaDB, Redis, Mosquitto and Chromium (the browser tests' headless browser) from Debian, and the
# real clients the protocol tests drive: Prometheus with promtool, node_exporter, vmagent (victoria-metrics),
# uv (pinned), then the locked Python environment. Node.js (>= 20.19, for the dashboard build)
# is checked by `make frontend`.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
APT_PACKAGES=(mariadb-server redis-server mosquitto mosquitto-clients chromium prometheus prometheus-node-exporter victoria-metrics)
missing=()
for tool in mariadbd:mariadb-server redis-server:redis-server mosquitto:mosquitto mosquitto_ctrl:mosquitto-clients chromium:chromium \
            prometheus:prometheus promtool:prometheus prometheus-node-exporter:prometheus-node-exporter \
            vmagent:victoria-metrics; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The packages try to start their system services; no init system runs here and we never use them.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "bootstrap: installing uv $UV_VERSION" >&2
    python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv sync --frozen --all-packages --quiet
