#!/usr/bin/env bash
# The README's test command (`make test`): builds what the tests need, then runs every
# test. Docker-backed tests run where an engine answers and say so where it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
# The kubernetes runtime's tests need a cluster: ci/kube.sh builds one (about 7 minutes
# cold on 2 cores, at the lowest CPU priority, cached outside the repo by version; seconds
# after) and starts it beside the packages, then runs the runtime's tests and the proofs
# that a kubernetes run leaves nothing (each set side by side: they mostly wait on the
# cluster's controllers). Where the cluster cannot come up (no root, say) the job says why and
# those tests skip; the end of this script says it again. `ci/kube.sh down` runs on
# every ending and fails the run if the host's rules, links, routes, mounts or cgroups
# are not as `up` found them.
# What ci/build.sh builds, for every test and job below, the kubernetes job included (set
# before it is forked: without it each leak child built the Toxiproxy server itself, under
# the packages' compile load, and a child with a 12 s -test.timeout spent it all there).
export FAULTLINE_BIN="$PWD/bin" FAULTLINE_ETCD="$PWD/bin/etcd"
kube_out=$(mktemp "${TMPDIR:-/tmp}/faultline-kube-job.XXXXXX")
kube_mark=$(mktemp -d "${TMPDIR:-/tmp}/faultline-kube-mark.XXXXXX")
export kube_mark
kube_job() {
  # The build first, at once: it needs nothing of ci/build.sh but Go, and runs at the
  # lowest CPU priority beside it, the vet and the packages. `up` needs bin/etcd.
  local built=""
  bash ci/kube.sh build && built=yes
  until [ -e "$kube_mark/built" ]; do sleep 1; done
  if [ -z "$built" ] || ! bash ci/kube.sh up; then
    touch "$kube_mark/failed"
    echo "kubernetes: SKIPPED: ci/kube.sh up could not bring a cluster up (its reason is above); only the runtime's tests that need no cluster run"
    go test -count=1 ./harness/runtime/kubernetes/
    return
  fi
  touch "$kube_mark/up"
  # shellcheck disable=SC1090 # written by ci/kube.sh up
  . "${FAULTLINE_KUBE_DIR:-/tmp/faultline-kube}/env"
  export FAULTLINE_KUBE_REQUIRED=1
  go test -count=1 -timeout 15m -parallel 5 -run 'TestNothingOfARunRemains/kubernetes' ./hardening/leaks/ &
  local leaks=$! rc=0
  go test -count=1 -timeout 15m -parallel 6 ./harness/runtime/kubernetes/ || rc=1
  wait "$leaks" || rc=1
  return $rc
}
kube_down() { # stop the kubernetes job and tear the cluster down, once
  [ -n "${kube_pid:-}" ] && { kill -INT -- -"$kube_pid" 2>/dev/null; wait "$kube_pid" 2>/dev/null; }
  kube_pid=""
  [ -z "${kube_downed:-}" ] || return 0
  kube_downed=yes
  bash ci/kube.sh down >>"$kube_out" 2>&1
}
# Whatever ends this script (a failed build, a signal), the cluster goes with it.
trap 'kube_down; rm -rf "$kube_mark"' EXIT
export -f kube_job
setsid bash -c kube_job >"$kube_out" 2>&1 &
kube_pid=$!
bash ci/build.sh
touch "$kube_mark/built"
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
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $packages >/dev/null; }; then
    echo "test: could not install$packages: the tests that need them will skip, or fail under CI" >&2
  fi
fi
log=${TMPDIR:-/tmp}/faultline-test.log
: >"$log"
status=0
# Jobs run beside the foreground one, each in a process group of its own (setsid), so
# that whatever ends this script hands each one SIGINT, on which it downs its systems
# and ends; each writes to a log of its own, printed once it is collected.
pids=() outs=() heads=()
beside() { # beside HEADING COMMAND...: start COMMAND beside what runs next
  heads+=("$1")
  outs+=("$(mktemp "${TMPDIR:-/tmp}/faultline-beside.XXXXXX")")
  shift
  setsid "$@" >"${outs[-1]}" 2>&1 &
  pids+=("$!")
}
stop_beside() {
  local p
  for p in "${pids[@]}"; do kill -INT -- -"$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  exit 130
}
trap 'kube_down; stop_beside' INT TERM
collect() { # wait for every command started beside, and print its log under its heading
  local i rc
  for i in "${!pids[@]}"; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    echo "--- ${heads[$i]}:" | tee -a "$log"
    tee -a "$log" <"${outs[$i]}"
    rm -f "${outs[$i]}"
    [ "$rc" = 0 ] || status=1
  done
  pids=() outs=() heads=()
}
# Every package but the scenarios first, two at a time, and beside them the proofs that
# the scenarios' checks are not blind (label "blind": each breaks the reference system on
# purpose and passes only when a check goes red, so a busy machine can only make them
# redder, never green). Specs labelled "slow" (the 50-cycle soak) run outside `make test`:
# `go test ./scenarios/ -ginkgo.label-filter=slow`.
beside "the proofs that the checks are not blind (./scenarios/, label blind), run beside the packages" go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='blind && !slow'
go test -count=1 -timeout 20m $(go list ./... | grep -Ev '/scenarios$|/harness/runtime/kubernetes$') 2>&1 | tee -a "$log" || status=1
collect
# Then the experiments with bounds, with no other package beside them: the scenario
# suites' docker half and local half, each in a process of its own with its own system,
# and examples/, a user's repository in miniature (a Go module of its own, faultline
# through a replace), through `faultline run` from its own directory as a user would,
# which leaves its report in examples/reports/latest/. They mostly wait out fault and
# recovery windows: the two halves side by side left about two thirds of the 2 cores
# idle (vmstat), so each keeps the CPU its bounds need. Each scenario half writes its
# report to a directory of its own, under $FAULTLINE_REPORT_DIR when the caller set one
# (ci/flake-clone.sh does).
reports=${FAULTLINE_REPORT_DIR:-$PWD/reports/test-$(date -u +%Y%m%dT%H%M%SZ)}
beside "examples/ (faultline run), run beside the scenario suites" bash -c 'cd examples && go vet ./... && ../bin/faultline run -runtime local -timeout 10m ./... && test -s reports/latest/index.html'
beside "the scenario suites on docker (./scenarios/, label docker), run beside the local ones" env FAULTLINE_REPORT_DIR="$reports/docker" go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='!slow && !blind && docker'
FAULTLINE_REPORT_DIR="$reports/local" go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='!slow && !blind && local' 2>&1 | tee -a "$log" || status=1
collect
# The kubernetes job's results, then the scenario suites on kubernetes, last and alone:
# the cluster's control plane needs the CPU that the other halves' bounds assume is theirs
# (beside them, a local recovery went past its bound at a load average of 10).
rc=0
wait "$kube_pid" || rc=$?
kube_pid=""
[ "$rc" = 0 ] || status=1
echo "--- the kubernetes runtime on a single-node cluster (ci/kube.sh), run beside the packages:" | tee -a "$log"
tee -a "$log" <"$kube_out"
: >"$kube_out"
if [ -e "$kube_mark/up" ]; then
  echo "--- the scenario suites on kubernetes (./scenarios/, label kubernetes), last and alone:" | tee -a "$log"
  # shellcheck disable=SC1090 # written by ci/kube.sh up
  if ! (. "${FAULTLINE_KUBE_DIR:-/tmp/faultline-kube}/env" && FAULTLINE_KUBE_REQUIRED=1 FAULTLINE_REPORT_DIR="$reports/kubernetes" \
    go test -count=1 -timeout 25m ./scenarios/ -ginkgo.label-filter='!slow && !blind && kubernetes') 2>&1 | tee -a "$log"; then
    status=1
  fi
fi
kube_down || status=1
tee -a "$log" <"$kube_out"
if [ ! -e "$kube_mark/up" ]; then
  echo "test: the kubernetes runtime's conformance suite and leak proofs were SKIPPED: no cluster could be brought up (see above)" | tee -a "$log"
fi
rm -f "$kube_out"
trap - INT TERM
exit $status
