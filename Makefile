# wearstream — the common jobs. `make help` lists them.
.DEFAULT_GOAL := help
VENV := .venv/bin

.PHONY: help setup demo test lint stack-up stack-down

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## Create .venv/ from the lock file (installs the pinned uv if missing)
	@bash deploy/local/setup-venv.sh

demo: setup ## Start the local stack, migrate, create topics and check the stack end to end
	$(VENV)/wearstream stack up
	$(VENV)/wearstream db migrate
	$(VENV)/wearstream topics create
	$(VENV)/wearstream stack smoke
	@echo "The stack keeps running; stop it with: $(VENV)/wearstream stack down"

lint: setup ## ruff (lint + format check) and mypy (strict)
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

test: lint ## Lint, type-check, then all tests (starts the real local stack if it is not running)
	$(VENV)/pytest -q

stack-up: setup ## Start the local stack
	$(VENV)/wearstream stack up

stack-down: setup ## Stop the local stack
	$(VENV)/wearstream stack down
