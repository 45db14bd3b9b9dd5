#!/usr/bin/env bash
# The README's test command (`make test`): builds what the tests need, then runs every
# test. Docker-backed tests run where an engine answers and say so where it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/build.sh
export FAULTLINE_ETCD="$PWD/bin/etcd"
export FAULTLINE_BIN="$PWD/bin"
go vet ./...
# Real servers the tests need, from Debian's packages, installed in one apt-get where
# missing: Chromium (harness/report checks index.html in it; without it that check
# skips), PostgreSQL and Redis (harness/modules and examples/ run them; under CI they
# fail without them).
packages=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${FAULTLINE_CHROMIUM:-}" ] || packages="$packages chromium"
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || packages="$packages postgresql"
command -v redis-server >/dev/null 2>&1 || packages="$packages redis-server"
if [ -n "$packages" ]; then
  echo "test: installing$packages" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  # shellcheck disable=SC2086 # one word per package
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null; }; then
    echo "test: could not install$packages: the tests that need them will skip, or fail under CI" >&2
  fi
fi
log=${TMPDIR:-/tmp}/faultline-test.log
: >"$log"
status=0
# Every package but the scenarios first, two at a time, and beside them the proofs that
# the scenarios' checks are not blind (label "blind": each breaks the reference system on
# purpose and passes only when a check goes red, so a busy machine can only make them
# redder, never green). Then the scenario suites with nothing else beside them, so
# that their latency and recovery bounds are not measured on a box that is also running
# other packages' containers. Specs labelled "slow" (the 50-cycle soak) run outside `make test`:
# `go test ./scenarios/ -ginkgo.label-filter=slow`.
blindlog=$(mktemp "${TMPDIR:-/tmp}/faultline-blinds.XXXXXX")
# In a process group of their own (setsid), so that whatever ends this script hands
# them one SIGINT, on which they down their systems and end.
setsid go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='blind && !slow' >"$blindlog" 2>&1 &
blinds=$!
trap 'kill -INT -- -"$blinds" 2>/dev/null || true; wait "$blinds" || true; exit 130' INT TERM
go test -count=1 -timeout 20m $(go list ./... | grep -v '/scenarios$') 2>&1 | tee -a "$log" || status=1
blindstatus=0
wait "$blinds" || blindstatus=$?
trap - INT TERM
echo "--- the proofs that the checks are not blind (./scenarios/, label blind), run beside the packages:" | tee -a "$log"
tee -a "$log" <"$blindlog"
rm -f "$blindlog"
[ "$blindstatus" = 0 ] || status=1
# examples/ is a user's repository in miniature, a Go module of its own (faultline
# through a replace): its experiments run alone too, for their bounds, through
# `faultline run` from its own directory as a user would, which leaves their report in
# examples/reports/latest/.
(cd examples && go vet ./... && ../bin/faultline run -runtime local -timeout 10m ./... && test -s reports/latest/index.html) 2>&1 | tee -a "$log" || status=1
# The scenario suites last: the docker half and the local half side by side, each in a
# process of its own with its own system. They are mostly waiting out fault and
# recovery windows (the two together leave about two thirds of the 2 cores idle,
# measured with vmstat), so each keeps the CPU its bounds need, and nothing else runs
# beside them. Each writes its report to a directory of its own, under
# $FAULTLINE_REPORT_DIR when the caller set one (ci/flake-clone.sh does).
reports=${FAULTLINE_REPORT_DIR:-$PWD/reports/test-$(date -u +%Y%m%dT%H%M%SZ)}
dockerlog=$(mktemp "${TMPDIR:-/tmp}/faultline-docker.XXXXXX")
FAULTLINE_REPORT_DIR="$reports/docker" setsid go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='!slow && !blind && docker' >"$dockerlog" 2>&1 &
dockerhalf=$!
trap 'kill -INT -- -"$dockerhalf" 2>/dev/null || true; wait "$dockerhalf" || true; exit 130' INT TERM
FAULTLINE_REPORT_DIR="$reports/local" go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='!slow && !blind && local' 2>&1 | tee -a "$log" || status=1
dockerstatus=0
wait "$dockerhalf" || dockerstatus=$?
trap - INT TERM
echo "--- the scenario suites on docker (./scenarios/, label docker), run beside the local ones:" | tee -a "$log"
tee -a "$log" <"$dockerlog"
rm -f "$dockerlog"
[ "$dockerstatus" = 0 ] || status=1
exit $status
