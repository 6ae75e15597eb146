# Self-documenting: `make` lists the targets (every `## ` comment).
.DEFAULT_GOAL := help
SHELL := /bin/bash
RUN := uv run --frozen
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install everything (Debian packages when root, uv, .venv, JVM jars)
	@./scripts/bootstrap.sh

.PHONY: demo
demo: setup ## Run the whole platform locally, no Docker (Ctrl-C stops it)
	@$(RUN) lakehouse demo

.PHONY: setup-test
setup-test: ## setup, plus (as root) Docker and mmdebstrap for the compose run
	@LAKEHOUSE_INSTALL_DOCKER=1 ./scripts/bootstrap.sh

.PHONY: test
test: setup-test ## Run every test: the compose run, then unit, integration, e2e against real local services
	@$(RUN) pytest $(PYTEST_ARGS)

.PHONY: setup-python
setup-python: ## Only uv and the Python environment (.venv): enough for lint and unit tests
	@./scripts/bootstrap.sh --python-only

.PHONY: test-unit
test-unit: setup-python ## Unit tests (tests/unit): the Python environment only, no services, no JVM
	@$(RUN) pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: setup ## Integration tests (tests/integration) against the real local services
	@$(RUN) pytest tests/integration $(PYTEST_ARGS)

.PHONY: test-e2e
test-e2e: setup ## The end-to-end test (tests/e2e): the whole local platform, ingestion to dashboard
	@$(RUN) pytest tests/e2e $(PYTEST_ARGS)

.PHONY: test-compose
test-compose: setup-test ## The compose run only: build every image here, start docker-compose.yaml, drive it
	@$(RUN) pytest -m compose $(PYTEST_ARGS)

.PHONY: lint
lint: setup-python ## ruff and mypy
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy

.PHONY: fmt
fmt: setup-python ## Format and auto-fix
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

.PHONY: infra-up
infra-up: setup ## Start local Kafka + PostgreSQL, write .lakehouse/env
	@$(RUN) lakehouse infra up

.PHONY: infra-down
infra-down: ## Stop local Kafka + PostgreSQL
	@$(RUN) lakehouse infra down

.PHONY: bench
bench: setup ## Run every benchmark; figures in bench/results/
	@$(RUN) python -m bench

# The dependency groups of pyproject.toml that are images (Dockerfile, Dockerfile.spark).
IMAGE_GROUPS := ingest dbt mlflow-server dashboard spark airflow

.PHONY: requirements
requirements: ## Re-export requirements/<group>.txt (one per image) from uv.lock
	@for group in $(IMAGE_GROUPS); do \
		uv export --frozen --no-default-groups --group $$group --no-emit-project --no-hashes \
			-o requirements/$$group.txt >/dev/null || exit 1; \
	done

.PHONY: up
up: ## docker compose: write .env with random secrets if missing, then start everything
	@[ -f .env ] || (umask 077 && ./scripts/make_env.sh > .env)
	@docker compose up -d --build

.PHONY: up-small
up-small: ## docker compose, small profile (docker-compose.small.yaml): the data path in at most 8 GiB
	@[ -f .env ] || (umask 077 && ./scripts/make_env.sh > .env)
	@docker compose -f docker-compose.yaml -f docker-compose.small.yaml up -d --build

.PHONY: down
down: ## docker compose: stop everything (volumes are kept)
	@docker compose down

.PHONY: clean
clean: ## Stop local infra and delete .lakehouse/ (all local data)
	-@$(RUN) lakehouse infra down
	@# as root, a cluster the postgres user could not reach here lives in its home, linked from here
	@[ ! -L .lakehouse/postgres ] || rm -rf "$$(readlink -f .lakehouse/postgres)"
	rm -rf .lakehouse
