# Assay: the two commands of the README contract, plus the benchmarks.
#   make run    the console (the main job: open the sample model, benchmark it in one click);
#               without a display, the same benchmark headless through the CLI
#               (`make run` installs only what running needs: see scripts/setup-run.sh)
#   make test   set everything up, test tools included, then run every test
# Both are idempotent: the setup installs only what is missing.

SHELL := /bin/bash
CARGO ?= cargo
ASSAY := target/debug/assay

.PHONY: setup setup-run run test lint bench bench-overhead bench-profile bench-signing bench-gateway bench-servers bench-registry bench-console bench-accuracy bench-viewer deb image fixtures clean-cache

# Everything the tests need (includes setup-run).
setup:
	@bash scripts/setup.sh

# Only what running needs: no test tools, and no console build without a display.
setup-run:
	@bash scripts/setup-run.sh

run: setup-run
	@bash scripts/run-console.sh

test: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings
	$(CARGO) check -q -p assay-cli -p assay-gateway --no-default-features
	$(CARGO) test --workspace --no-fail-fast
	@bash scripts/check-bindings.sh
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
# `make bench-gateway AGAINST=/path/to/old/assay-gateway` compares two builds instead;
# `make bench-gateway GRPC_SHADOW=1` measures REST against gRPC, and a 100% shadow's cost
# (BENCH_SHADOW_CLIENT=assay drives the shadow part with `assay load`, BENCH_ROUNDS=N rounds);
# `make bench-gateway CLIENT_COST=1` what `assay load` costs per request next to perf_analyzer.
# The gateway against Triton (nvidia-pytriton's tritonserver), MLServer, KServe and the FastAPI
# baseline, all serving the same models through onnxruntime, all driven by `assay load`.
bench-servers: setup
	@bash scripts/setup-bench-gateway.sh
	@bash scripts/setup-bench-servers.sh
	$(CARGO) build --release -q -p assay-cli -p assay-gateway
	python3 scripts/bench_servers.py

# A 2 GiB release through a real registry next to ORAS: push, verified pull with the gateway's
# memory, the bytes a one-file change sends, and a three-gateway rollout split by phase.
bench-registry: setup
	$(CARGO) build --release -q -p assay-cli -p assay-gateway
	python3 scripts/bench_registry.py

bench-gateway: setup
	@bash scripts/setup-bench-gateway.sh
	$(CARGO) build --release -q -p assay-cli -p assay-gateway
	python3 scripts/bench_gateway.py $(if $(AGAINST),--against $(AGAINST)) $(if $(GRPC_SHADOW),--grpc-shadow)$(if $(CLIENT_COST),--client-cost)

# Output comparison next to Polygraphy: speed on 200 input sets, and the peak memory of the
# first-diverging-node search next to a plain comparison and to marking every tensor.
bench-accuracy: setup
	$(CARGO) build --release -q -p assay-cli
	python3 scripts/bench_accuracy.py

# The native viewer on a 20,640- and a 101,000-node model: first frame, opening the largest
# group, frame times while panning and zooming with an overlay, wgpu's render, peak memory;
# Model Explorer (headless Chromium) next to it on the 20k model; and the trace view on
# 100,000- and 1,000,000-event traces: open, frame times, memory.
bench-viewer: setup
	@bash scripts/setup-bench-viewer.sh
	$(CARGO) bench -p assay-viewer --bench graph
	$(CARGO) bench -p assay-viewer --bench trace

# The console's release build: start-up to first paint and the 100,000-sample chart (under
# Xvfb when there is no display). Responsiveness during a benchmark comes from `make test`'s
# end-to-end run (target/e2e-perf.json).
bench-console: setup
	npm --prefix ui run build --silent
	$(CARGO) build --release -q -p assay-cli -p assay-console
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then node scripts/bench_console.mjs; \
	else xvfb-run -a -s "-screen 0 1280x800x24" node scripts/bench_console.mjs; fi

# The .deb of the console (with the `assay` worker), built offline by the Tauri CLI.
deb: setup
	$(CARGO) build --release -q -p assay-cli
	npx --yes @tauri-apps/cli@2 build --bundles deb

# The gateway's container image (deploy/Dockerfile) with podman, then run and checked as a
# Kubernetes node would run it. ASSAY_IMAGE_LOCAL_BASES=1 where Docker Hub is out of reach.
image: setup-run
	bash scripts/build-image.sh

# Every benchmark that prints the figures in docs/BENCHMARKS.md.
bench: bench-overhead bench-profile bench-signing bench-gateway bench-console bench-accuracy bench-viewer bench-registry

fixtures:
	.cache/venv/bin/python scripts/make_fixtures.py --out .cache/fixtures --assets assets

clean-cache:
	rm -rf .cache
