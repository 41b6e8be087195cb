.PHONY: run test setup lint

run:  ## set up everything and run web, worker and model server on the embedded defaults
	bash scripts/run.sh

test:  ## set up everything and run the whole test suite
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

lint:
	.venv/bin/ruff check .
