#!/usr/bin/env bash
# `make bench`: runs every benchmark under bench/ once (each decides its own sample
# count and measures its baseline in the same run), collects their figures into a fresh
# JSON-lines file (FAULTLINE_BENCH_OUT) and writes BENCHMARKS.md at the repository root
# with cmd/benchmd. Packages run one at a time (-p 1) so that no benchmark shares the
# machine with another. Whatever the docker benchmarks start is named
# faultline-bench-<session>-…, and removed on exit, even after a failure or Ctrl-C;
# local processes die with the benchmark that started them. Docker figures skip, saying
# so, where no engine answers. BENCHMARKS.md is written even when a benchmark failed,
# listing it; the script then exits non-zero. BENCH=<regexp> runs only the benchmarks
# it matches, and BENCH_MD=<file> writes elsewhere than BENCHMARKS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
export FAULTLINE_ETCD="${FAULTLINE_ETCD:-$PWD/bin/etcd}"
export FAULTLINE_BIN="${FAULTLINE_BIN:-$PWD/bin}"
export FAULTLINE_BENCH_SESSION="$(date -u +%H%M%S)$$"
work="$(mktemp -d -t faultline-bench-XXXXXX)"
export FAULTLINE_BENCH_OUT="$work/figures.jsonl"
: >"$FAULTLINE_BENCH_OUT"

cleanup() {
  if command -v docker >/dev/null 2>&1 && docker version >/dev/null 2>&1; then
    prefix="faultline-bench-$FAULTLINE_BENCH_SESSION-"
    ids="$(docker ps -aq --filter "name=$prefix")"
    if [ -n "$ids" ]; then
      echo "bench: removing containers left by this run" >&2
      docker rm -f $ids >/dev/null || true
    fi
    nets="$(docker network ls -q --filter "name=$prefix")"
    if [ -n "$nets" ]; then
      docker network rm $nets >/dev/null || true
    fi
  fi
  if [ -n "${kube_up:-}" ]; then
    bash ci/kube.sh down >&2 || echo "bench: ci/kube.sh down found the host changed (see above)" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# go test exits by itself on Ctrl-C, and bash then carries on: remember the interrupt
# so that a cut-short run does not overwrite BENCHMARKS.md.
interrupted=""
trap 'interrupted=yes' INT TERM

if ! command -v docker >/dev/null 2>&1 || ! docker version >/dev/null 2>&1; then
  echo "bench: no Docker engine answers: the docker figures will be skipped" >&2
fi
# The kubernetes figures need a cluster: ci/kube.sh's single-node one, torn down at exit.
kube_up=""
if [ -z "${BENCH:-}" ] || echo "Kubernetes" | grep -Eq "${BENCH}"; then
  if bash ci/kube.sh up >"$work/kube.log" 2>&1; then
    kube_up=yes
    # shellcheck disable=SC1090 # written by ci/kube.sh up
    . "${FAULTLINE_KUBE_DIR:-/tmp/faultline-kube}/env"
  else
    echo "bench: no Kubernetes cluster could be brought up: the kubernetes figures will be skipped; ci/kube.sh up said:" >&2
    tail -n 5 "$work/kube.log" >&2
  fi
fi
echo "bench: go test -p 1 -v -run '^\$' -bench '${BENCH:-.}' -benchtime=1x -count=1 -timeout 30m ./bench/..." >&2
go test -p 1 -v -run '^$' -bench "${BENCH:-.}" -benchtime=1x -count=1 -timeout 30m ./bench/... 2>&1 | tee "$work/bench.log"
statuses=("${PIPESTATUS[@]}")
status=${statuses[0]}
# tee dies of the same Ctrl-C (130) or termination (143) that go test survives to report.
if [ "${statuses[1]:-0}" -ge 128 ]; then
  interrupted=yes
fi
if [ -n "$interrupted" ]; then
  echo "bench: interrupted: BENCHMARKS.md left as it was" >&2
  exit 130
fi
if [ ! -s "$FAULTLINE_BENCH_OUT" ]; then
  echo "bench: no benchmark recorded a figure (see the output above): BENCHMARKS.md left as it was" >&2
  exit 1
fi
if ! go run ./cmd/benchmd -in "$FAULTLINE_BENCH_OUT" -log "$work/bench.log" -out "${BENCH_MD:-BENCHMARKS.md}"; then
  echo "bench: could not write ${BENCH_MD:-BENCHMARKS.md}" >&2
  exit 1
fi
echo "bench: wrote ${BENCH_MD:-BENCHMARKS.md} ($(grep -c . "$FAULTLINE_BENCH_OUT") figures)" >&2
exit "$status"
