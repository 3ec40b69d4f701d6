#!/usr/bin/env bash
# Installs what tandem needs on a fresh Debian machine: liblmdb-dev (the journal's storage),
# Python's jsonschema and prometheus_client (the schema and /metrics format checks in the test
# suite), PostgreSQL (the fleet store's tests run a private server), and Debian's chromium +
# chromium-driver with Python's selenium (the console's browser tests; nothing downloads a
# browser at run time). Does nothing when all are present.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if [ ! -f /usr/include/lmdb.h ]; then
  echo "installing liblmdb-dev ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq liblmdb-dev pkg-config >/dev/null
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v psql >/dev/null; then
  # The fleet store's tests start their own PostgreSQL server (initdb + pg_ctl on a free port).
  echo "installing postgresql ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
if ! python3 -c "import jsonschema, referencing" 2>/dev/null; then
  echo "installing python jsonschema ..."
  python3 -m pip install -q jsonschema
fi
if ! python3 -c "import openapi_spec_validator" 2>/dev/null; then
  echo "installing python openapi-spec-validator ..."
  python3 -m pip install -q openapi-spec-validator
fi
if ! python3 -c "import prometheus_client" 2>/dev/null; then
  echo "installing python prometheus_client (the /metrics format check) ..."
  python3 -m pip install -q prometheus_client
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "installing chromium and chromium-driver (the console's browser tests) ..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! python3 -c "import selenium" 2>/dev/null; then
  echo "installing python selenium (drives chromium in the console's browser tests) ..."
  python3 -m pip install -q selenium
fi
