# tandem — the two commands of README.md, plus benchmarks.
SWIFT ?= swift
DATA_DIR ?= ./tandem-data

.PHONY: deps build test serve bench-journal bench-serve bench-projections bench-fleet clean

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
