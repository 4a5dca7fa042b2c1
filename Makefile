# Developer entry points. `make test` is the project's test command (CI runs it through .ci/run);
# every target first runs scripts/setup.sh, which returns in seconds when nothing changed.
#   make test PYTEST_ARGS='tests/test_native.py -x'   extra pytest arguments
#   make demo DEMO_ARGS='--frames 600'                extra arguments for scripts/demo.sh
# `clean` removes build outputs and caches; it keeps .venv/ and .deps/ (slow to recreate).

PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup test demo clean

setup:
	bash scripts/setup.sh

# pytest through its console script, so the repository root is not on sys.path and the tests see
# the package as installed; with no paths in PYTEST_ARGS, pyproject's testpaths selects tests/.
# Exit status 5 (no tests collected) is a failure here, not a pass.
test: setup
	@status=0; .venv/bin/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

demo: setup
	bash scripts/demo.sh $(DEMO_ARGS)

clean:
	rm -rf build .pytest_cache *.egg-info
	find . -path ./.venv -prune -o -path ./.deps -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
