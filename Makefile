# tandem — the two commands of README.md, plus benchmarks.
SWIFT ?= swift
DATA_DIR ?= ./tandem-data

.PHONY: deps build test reliability serve bench-journal bench-serve bench-projections bench-fleet clean

deps:
	@Tools/install-deps.sh

build: deps
	$(SWIFT) build

## The whole test suite (what .ci/run and CI run): the Swift tests, the console in headless
## Chromium, then schemathesis against a live serve (the OpenAPI document and the server agree).
##
## Tests that keep a core busy for seconds without suspending (the timing-ratio tests of the
## redactor, its every-split-position checks, the state machine's exhaustive walk) run in a second
## pass of their own: run beside the others they hold the cooperative pool's few threads (one per
## core) long enough to starve the servers of the HTTP tests, and their own ratios get noisier.
## No test blocks a pool thread otherwise: child processes and raw sockets are awaited off the
## pool (Tests/TandemTestSupport/SpawnedProcess.swift).
CPU_BOUND_TESTS = RedactionLinearTimeTests|StreamingRedactorTests|RunStateMachineInvariantTests
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --skip "$(CPU_BOUND_TESTS)"
	$(SWIFT) test --skip-build --filter "$(CPU_BOUND_TESTS)"
	python3 Tests/console/test_console.py .build/debug/tandem
	Tools/schemathesis.sh .build/debug/tandem

## The reliability suite (docs/RELIABILITY.md): the release binary against real faults — crash loop,
## upstream fault matrix, full/read-only disks, a 10,000-stream soak, a real Prometheus, libFuzzer,
## PostgreSQL faults. Prints the seed first (RELIABILITY_SEED replays it), a line per part and
## `N passed, M failed`; writes the table in docs/RELIABILITY.md. RELIABILITY_PARTS picks parts.
reliability: deps
	$(SWIFT) build -c release --product tandem
	@if grep -q '"tandem-faults"' Package.swift; then $(SWIFT) build -c release --product tandem-faults; fi
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); python3 Tools/reliability/reliability.py

## Runs the service (release build).
serve: deps
	$(SWIFT) build -c release --product tandem
	.build/release/tandem serve --data-dir $(DATA_DIR)

## Journal benchmark: durable append throughput vs raw LMDB, replay+verify speed.
bench-journal: deps
	$(SWIFT) build -c release --product tandem-bench
	.build/release/tandem-bench journal

## Server benchmark: tandem against its ceiling (a do-nothing server with tandem's frames) in
## alternating rounds; runs/s and added latency at 1/16/64/256 clients and 10,000 open streams'
## RSS; then answers vs deltas streaming at 64/256 clients (commit-to-frame p50/p99 from the
## server). PREVIOUS=/path/to/an/earlier/tandem adds that build to the ceiling rounds.
PREVIOUS ?=
bench-serve: deps
	$(SWIFT) build -c release --product tandem
	$(SWIFT) build -c release --product tandem-ceiling
	$(SWIFT) build -c release --product tandem-bench
	ulimit -n 65536 2>/dev/null || true; .build/release/tandem-bench ceiling $(if $(PREVIOUS),--previous $(PREVIOUS))
	ulimit -n 65536 2>/dev/null || true; .build/release/tandem-bench serve
	ulimit -n 65536 2>/dev/null || true; .build/release/tandem-bench deltas

## Projections benchmark: rebuild throughput over 1M events vs replay+verify; lookup latency at 100k runs.
bench-projections: deps
	$(SWIFT) build -c release --product tandem
	$(SWIFT) build -c release --product tandem-bench
	.build/release/tandem-bench projections

## Fleet benchmark: shipping entries/s of a 1M-entry journal vs psql \copy of the same rows, and
## serve's runs/s and fleet lag at 64 clients with shipping on/off (a private PostgreSQL server).
FLEET_PG_DIR ?= /tmp/tandem-bench-fleet-pg
FLEET_PG_PORT ?= 55499
bench-fleet: deps
	$(SWIFT) build -c release --product tandem
	$(SWIFT) build -c release --product tandem-bench
	url=$$(Tools/postgres-test-server.sh start $(FLEET_PG_DIR) $(FLEET_PG_PORT)); \
	  .build/release/tandem-bench fleet --url "$$url"; status=$$?; \
	  Tools/postgres-test-server.sh stop $(FLEET_PG_DIR); rm -rf $(FLEET_PG_DIR); exit $$status

clean:
	rm -rf .build
