# wearstream — the common jobs. `make help` lists them.
.DEFAULT_GOAL := help
VENV := .venv/bin

.PHONY: help setup demo test lint bench stack-up stack-down

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## Create .venv/ from the lock file (installs the pinned uv if missing)
	@bash deploy/local/setup-venv.sh

demo: setup ## The whole pipeline here: stack, processor, API, a replay of 20 participants × 2 days, a summary
	$(VENV)/wearstream demo

lint: setup ## ruff (lint + format check) and mypy (strict)
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

test: lint ## Lint, type-check, then all tests (starts the real local stack if it is not running)
	$(VENV)/pytest -q

bench: setup ## Every benchmark on the local stack; results in bench/results/ and the README
	$(VENV)/wearstream stack up
	$(VENV)/python -m bench

stack-up: setup ## Start the local stack
	$(VENV)/wearstream stack up

stack-down: setup ## Stop the local stack
	$(VENV)/wearstream stack down
