# microdash: `make run` starts the whole stack locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV_BIN := $(CURDIR)/.venv/bin
export PATH := $(VENV_BIN):$(PATH)

.PHONY: help bootstrap run test lint bench clean kube frontend contract images node cluster cluster-down test-cluster

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install MariaDB, Redis, Mosquitto and the locked Python environment (only what is missing)
	@scripts/bootstrap.sh

# The dashboard: `npm ci` only when the lock file is newer than node_modules (npm writes
# node_modules/.package-lock.json), `npm run build` only when a source is newer than dist.
FRONTEND_SOURCES := $(shell find frontend/src -type f -not -name '*.test.ts' 2>/dev/null) \
	$(wildcard frontend/public/* frontend/index.html frontend/*.config.* frontend/tsconfig*.json frontend/package.json)

frontend: frontend/dist/index.html ## build the dashboard into frontend/dist (only what is stale)

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("the dashboard build needs Node.js >= 20.19, found " + process.version); process.exit(1) }'
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm run build
	@touch $@

# The wire contract: the api's OpenAPI document, and the dashboard's types generated from it. Both
# are committed; tests/test_contract.py and frontend/src/api/contract.test.ts fail when either is stale.
contract: bootstrap frontend/node_modules/.package-lock.json ## regenerate contract/openapi.json from the api and the dashboard's types from it
	microdash openapi contract/openapi.json
	cd frontend && npm run --silent contract:types

BRIDGES ?= 1

run: bootstrap frontend ## start MariaDB, Redis, Mosquitto, api, worker, scheduler and BRIDGES bridges (default 1); Ctrl-C stops them all
	@mkdir -p .run
	@if [ -e .run/secrets.env ] || [ ! -d .run/mosquitto ]; then microdash dev secrets .run/secrets.env; \
	else echo "make run: .run/ predates generated secrets and keeps the public development ones; 'make clean' once to change that" >&2; fi
	@MICRODASH_ENV_FILE=$(CURDIR)/.run/secrets.env MICRODASH_LOG_FORMAT=$${MICRODASH_LOG_FORMAT:-text} \
		$(if $(filter-out 1,$(BRIDGES)),MICRODASH_BRIDGE_SHARED_SUBSCRIPTION=true) honcho start -f Procfile -c bridge=$(BRIDGES)

lint: bootstrap ## architecture contracts (import-linter)
	lint-imports

kube: ## build kube-apiserver, etcd and helm for the operator and chart tests (once; cached outside the repo)
	@scripts/build-kube.sh >/dev/null

images: ## build the server, agent and datastore images with podman, no registry (bases cached outside the repo)
	@scripts/build-images.sh >/dev/null

node: ## build the rest of a node (kubelet, scheduler, controller-manager, kube-proxy, kubectl, CoreDNS, pause; once, cached)
	@scripts/build-node.sh >/dev/null

cluster: bootstrap images node ## a real single-node cluster with the images imported; prints KUBECONFIG, Ctrl-C stops it
	python tests/cluster/kubenode.py up

cluster-down: ## stop a cluster `make cluster` left behind and put the host back
	python tests/cluster/kubenode.py down

test-cluster: bootstrap images node ## the end-to-end tests on a real node (helm install, a Tenant's data, upgrade, uninstall)
	pytest tests/cluster -v $(PYTEST_ARGS)

test: bootstrap lint kube frontend images node ## all tests (Python, Vitest, browser, the chart on a real node), against throwaway MariaDB, Redis and Mosquitto instances
	cd frontend && npm test --silent
	pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: bootstrap kube frontend ## benchmarks (the last, cluster, on a real node: root); figures printed and written to bench/results/latest.json
	@command -v prometheus-node-exporter >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null)  # the agent's yardstick
	python bench/run.py $(BENCH_ARGS)

clean: ## remove the local run data (databases of `make run`)
	rm -rf .run
