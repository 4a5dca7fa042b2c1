# Developer entry points. `make test` is the project's test command (CI runs it through .ci/run);
# every target first runs scripts/setup.sh, which returns in seconds when nothing changed.
#   make test PYTEST_ARGS='tests/test_native.py -x'   extra pytest arguments
#   make test TEST_WORKERS=0                          one process (default: one worker per usable core)
#   make demo DEMO_ARGS='--frames 600'                extra arguments for scripts/demo.sh
#   make test-sanitize                                native tests under ASan+UBSan, then TSan
# `clean` removes build outputs and caches; it keeps .venv/ and .deps/ (slow to recreate).

PYTEST_ARGS ?=
TEST_WORKERS ?= $(shell nproc)
DEMO_ARGS ?=

.PHONY: setup test test-sanitize demo clean

setup:
	bash scripts/setup.sh

# pytest through its console script, so the repository root is not on sys.path and the tests see
# the package as installed; with no paths in PYTEST_ARGS, pyproject's testpaths selects tests/.
# Exit status 5 (no tests collected) is a failure here, not a pass. pytest-xdist runs one worker per
# core and hands out whole files (--dist loadfile), so a module's fixtures are built once.
test: setup
	@status=0; .venv/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status

# The runtime core and its C test driver (native/tests/test_driver.c) built twice more, outside the
# Python build: with AddressSanitizer + UndefinedBehaviorSanitizer (every test, and the packed-bundle
# driver native/tests/pack_driver.c on the maze's pack) and with
# ThreadSanitizer (the async start/stop/close races). ONNX Runtime is dlopen'ed uninstrumented from
# the onnxruntime wheel. LeakSanitizer stays on and needs no suppressions; TSan needs
# native/tests/tsan.supp for ONNX Runtime's own (uninstrumented) threads. Each run fails on the
# first sanitizer report.
SANITIZE_BUNDLE := build/sanitize/maze.vgrt
SANITIZE_PACK := build/sanitize/maze.vgrtpack
SANITIZE_CMAKE := -DVGRT_PYTHON=OFF -DVGRT_EXAMPLES=OFF -DVGRT_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
ORT_LIBRARY = $(firstword $(wildcard .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*))

test-sanitize: setup
	@.venv/bin/python -c 'import sys; from vidgen_rt.export.bundle import bundle_is_current; sys.exit(not bundle_is_current("$(SANITIZE_BUNDLE)"))' \
	  || .venv/bin/vidgen export maze -o $(SANITIZE_BUNDLE) --batch 1 --overwrite
	[ $(SANITIZE_PACK) -nt $(SANITIZE_BUNDLE)/manifest.json ] || .venv/bin/vidgen export $(SANITIZE_BUNDLE) --pack --overwrite
	cmake -S . -B build/sanitize-address $(SANITIZE_CMAKE) -DVGRT_SANITIZE=address,undefined >/dev/null
	cmake --build build/sanitize-address -j2
	VGRT_ORT_LIBRARY=$(abspath $(ORT_LIBRARY)) \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  build/sanitize-address/vgrt_test_driver $(SANITIZE_BUNDLE) all 100
	VGRT_ORT_LIBRARY=$(abspath $(ORT_LIBRARY)) \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  build/sanitize-address/vgrt_pack_driver $(SANITIZE_BUNDLE) $(SANITIZE_PACK)
	cmake -S . -B build/sanitize-thread $(SANITIZE_CMAKE) -DVGRT_SANITIZE=thread >/dev/null
	cmake --build build/sanitize-thread -j2
	VGRT_ORT_LIBRARY=$(abspath $(ORT_LIBRARY)) \
	TSAN_OPTIONS=halt_on_error=1:report_mutex_bugs=0:second_deadlock_stack=1:suppressions=$(abspath native/tests/tsan.supp) \
	  build/sanitize-thread/vgrt_test_driver $(SANITIZE_BUNDLE) async 100

demo: setup
	bash scripts/demo.sh $(DEMO_ARGS)

clean:
	rm -rf build .pytest_cache *.egg-info
	find . -path ./.venv -prune -o -path ./.deps -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
