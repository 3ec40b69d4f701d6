# tandem — the two commands of README.md, plus benchmarks.
SWIFT ?= swift
DATA_DIR ?= ./tandem-data

.PHONY: deps build test serve bench-journal bench-serve bench-projections clean

deps:
	@Tools/install-deps.sh

build: deps
	$(SWIFT) build

## The whole test suite (what .ci/run and CI run): the Swift tests, then the console in headless Chromium.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	python3 Tests/console/test_console.py .build/debug/tandem

## Runs the service (release build).
serve: deps
	$(SWIFT) build -c release --product tandem
	.build/release/tandem serve --data-dir $(DATA_DIR)

## Journal benchmark: durable append throughput vs raw LMDB, replay+verify speed.
bench-journal: deps
	$(SWIFT) build -c release --product tandem-bench
	.build/release/tandem-bench journal

## Server benchmark: runs/s and added latency at 1/16/64/256 clients, 10,000 open streams' RSS.
bench-serve: deps
	$(SWIFT) build -c release --product tandem
	$(SWIFT) build -c release --product tandem-bench
	ulimit -n 65536 2>/dev/null || true; .build/release/tandem-bench serve

## Projections benchmark: rebuild throughput over 1M events vs replay+verify; lookup latency at 100k runs.
bench-projections: deps
	$(SWIFT) build -c release --product tandem
	$(SWIFT) build -c release --product tandem-bench
	.build/release/tandem-bench projections

clean:
	rm -rf .build
