#!/usr/bin/env bash
# The README's test command (`make test`): builds what the tests need, then runs every
# test. Docker-backed tests run where an engine answers and say so where it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/build.sh
export FAULTLINE_ETCD="$PWD/bin/etcd"
export FAULTLINE_BIN="$PWD/bin"
go vet ./...
go test -count=1 -timeout 25m ./... 2>&1 | tee /tmp/faultline-test.log
