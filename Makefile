# microdash: `make run` starts the whole stack locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV_BIN := $(CURDIR)/.venv/bin
export PATH := $(VENV_BIN):$(PATH)

.PHONY: help bootstrap run test lint bench clean kube

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

bootstrap: ## install MariaDB, Redis, Mosquitto and the locked Python environment (only what is missing)
	@scripts/bootstrap.sh

run: bootstrap ## start MariaDB, Redis, Mosquitto, api, worker and scheduler; Ctrl-C stops them all
	@mkdir -p .run
	@MICRODASH_LOG_FORMAT=$${MICRODASH_LOG_FORMAT:-text} honcho start -f Procfile

lint: bootstrap ## architecture contracts (import-linter)
	lint-imports

kube: ## build kube-apiserver, etcd and helm for the operator and chart tests (once; cached outside the repo)
	@scripts/build-kube.sh >/dev/null

test: bootstrap lint kube ## all tests, against throwaway MariaDB, Redis and Mosquitto instances
	pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: bootstrap ## benchmarks; figures printed and written to bench/results/latest.json
	@command -v prometheus-node-exporter >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends prometheus-node-exporter >/dev/null)  # the agent's yardstick
	python bench/run.py $(BENCH_ARGS)

clean: ## remove the local run data (databases of `make run`)
	rm -rf .run
