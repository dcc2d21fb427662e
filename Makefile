# Assay: the two commands of the README contract, plus the benchmarks.
#   make run    the main job on embedded defaults (bench the sample model)
#   make test   set everything up, then run every test
# Both are idempotent: the setup installs only what is missing.

SHELL := /bin/bash
CARGO ?= cargo
ASSAY := target/debug/assay

.PHONY: setup run test lint bench bench-overhead bench-profile bench-signing bench-gateway fixtures clean-cache

setup:
	@bash scripts/setup.sh

run: setup
	$(ASSAY) bench assets/sample-mlp.onnx

test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings
	$(CARGO) check -q -p assay-cli -p assay-gateway --no-default-features
	$(CARGO) test --workspace --no-fail-fast
	npm --prefix ui test --silent
	PATH="$$HOME/.cargo/bin:$$PATH" xvfb-run -a -s "-screen 0 1280x800x24" node --test ui/e2e/console.e2e.mjs

# Assay's per-inference overhead against a raw ort loop and Python onnxruntime (release build).
bench-overhead: setup
	$(CARGO) bench -p assay-engine --bench overhead

# The streaming trace reader (1M events: events/s, peak memory) and the profiler's own cost.
bench-profile: setup
	$(CARGO) bench -p assay-engine --bench trace_parse
	$(CARGO) bench -p assay-engine --bench profile_overhead

# Signing and verifying 2 GiB models: assay next to model_signing (needs ~5 GiB in $$TMPDIR).
bench-signing: setup
	$(CARGO) bench -p assay-cli --bench signing

# The gateway under Triton's perf_analyzer, next to in-process and a FastAPI baseline.
bench-gateway: setup
	@bash scripts/setup-bench-gateway.sh
	$(CARGO) build --release -q -p assay-cli -p assay-gateway
	python3 scripts/bench_gateway.py

# Every benchmark that prints the figures in docs/BENCHMARKS.md.
bench: bench-overhead bench-profile bench-signing bench-gateway

fixtures:
	.cache/venv/bin/python scripts/make_fixtures.py --out .cache/fixtures --assets assets

clean-cache:
	rm -rf .cache
