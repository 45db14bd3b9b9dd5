#!/usr/bin/env bash
# Flake hunt: runs the whole scenario suite N times on each backend, each run with a
# fresh seed, and never stops at a failure. At the end it prints, and writes into
# reports/flake-<time>/summary.md, the pass count per backend and, for every failed
# run, its seed and the command that replays it exactly.
#
#   bash ci/flake.sh            # N=10 on local, and on docker where an engine answers
#   N=3 bash ci/flake.sh        # or: bash ci/flake.sh 3
#   BACKENDS=local LABELS='!slow && !blind' bash ci/flake.sh 2
#   MODE=clone N=10 HOG=1 bash ci/flake.sh   # the README's whole test command, clean clones
#
# MODE=clone runs what CI runs instead: N times, a fresh `git clone` of HEAD (what is
# committed, nothing else of this work tree) in a temporary directory, then
# `CI=true make test </dev/null` in it, as CI does; each run's log and verdict go to
# reports/flake-clone-<time>/. HOG=1 keeps one core busy all along (a busy loop pinned
# to the last CPU with taskset): the "busy 2-core machine" the suite must pass on.
# Go's module and build caches are shared with this machine, as they are between CI
# runs; bin/ and everything the suite builds is made anew in each clone.
#
# N (or the first argument): runs per backend (default 10). BACKENDS: which backends
# (default "local docker"; docker is skipped, and said so, where no engine answers).
# LABELS: the Ginkgo label filter (default '!slow': the soaks stay out, as in `make
# test`). Each run's log and report data stay in the output directory;
# `bin/faultline report DIR` renders a run's report. The suite removes what each run
# started (containers, networks, processes), pass or fail.
set -uo pipefail
cd "$(dirname "$0")/.."

n=${1:-${N:-10}}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "flake: N=$n is not a positive whole number: give the runs per backend, e.g. N=3 or bash ci/flake.sh 3" >&2
  exit 2
fi
backends=${BACKENDS:-local docker}
labels=${LABELS:-!slow}
for backend in $backends; do
  case $backend in
  local | docker) ;;
  *)
    echo "flake: unknown backend $backend in BACKENDS: use local, docker or both" >&2
    exit 2
    ;;
  esac
done

if [ "${MODE:-suite}" = clone ]; then
  exec bash ci/flake-clone.sh "$n"
fi
case ${MODE:-suite} in
suite) ;;
*)
  echo "flake: unknown MODE=$MODE: use suite (default: the scenario suite per backend) or clone (make test on clean clones)" >&2
  exit 2
  ;;
esac

bash ci/build.sh || { echo "flake: build failed" >&2; exit 1; }
export FAULTLINE_ETCD="$PWD/bin/etcd"
export FAULTLINE_BIN="$PWD/bin"

out="$PWD/reports/flake-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
summary="$out/summary.md"

# docker_answers tells whether a Docker engine answers within a few seconds.
docker_answers() {
  if command -v docker >/dev/null 2>&1; then
    timeout 10 docker info >/dev/null 2>&1
    return
  fi
  local sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
  sock=${sock#unix://}
  [ -S "$sock" ] && command -v curl >/dev/null 2>&1 &&
    timeout 10 curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1
}

# new_seed draws a fresh seed for one run.
new_seed() { od -An -N4 -tu4 /dev/urandom | tr -d ' '; }

declare -A passed ran
failures=()
interrupted=0
trap 'interrupted=1' INT TERM

{
  echo "# flake: $n run(s) per backend"
  echo
  echo "Started $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname) ($(nproc) cores); label filter \`$labels\`; commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
} >"$summary"

for backend in $backends; do
  if [ "$backend" = docker ] && ! docker_answers; then
    echo "flake: no Docker engine answers: skipping the docker backend" | tee -a "$summary"
    continue
  fi
  passed[$backend]=0
  ran[$backend]=0
  for i in $(seq 1 "$n"); do
    [ "$interrupted" = 1 ] && break
    seed=$(new_seed)
    run="$out/$backend-$i"
    mkdir -p "$run"
    replay="FAULTLINE_SEED=$seed FAULTLINE_RUNTIME=$backend go test ./scenarios/ -count=1 -timeout 25m -ginkgo.seed=$seed -ginkgo.label-filter='$labels'"
    echo "flake: $backend run $i/$n, seed $seed (log: $run/run.log)" >&2
    start=$(date +%s)
    FAULTLINE_SEED=$seed FAULTLINE_RUNTIME=$backend FAULTLINE_REPORT_DIR="$run" \
      go test ./scenarios/ -count=1 -timeout 25m -v -ginkgo.no-color -ginkgo.seed="$seed" -ginkgo.label-filter="$labels" >"$run/run.log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    [ "$interrupted" = 1 ] && { echo "flake: interrupted during $backend run $i: not counted" >&2; break; }
    ran[$backend]=$((ran[$backend] + 1))
    if [ $rc = 0 ]; then
      passed[$backend]=$((passed[$backend] + 1))
      echo "flake: $backend run $i/$n passed in ${took}s" >&2
      echo "- $backend run $i passed, seed $seed, ${took}s" >>"$summary"
    else
      failed=$(grep -E '^\s*\[FAIL\]' "$run/run.log" | sed -E 's/^\s+//' | sort -u | head -5 | sed 's/^/    /')
      failures+=("$backend run $i, seed $seed (${took}s, exit $rc): $replay")
      echo "flake: $backend run $i/$n FAILED in ${took}s (seed $seed); replay: $replay" >&2
      [ -n "$failed" ] && echo "$failed" >&2
      { echo "- **$backend run $i failed**, seed $seed, ${took}s, log \`$run/run.log\`"; echo "  replay: \`$replay\`"; [ -n "$failed" ] && echo "$failed" | sed 's/^    /  - /'; } >>"$summary"
    fi
  done
done

{
  echo
  echo "## Result"
  echo
  for backend in $backends; do
    [ -n "${ran[$backend]:-}" ] || continue
    echo "- $backend: ${passed[$backend]}/${ran[$backend]} passed"
  done
  [ "$interrupted" = 1 ] && echo "- interrupted: fewer runs than asked"
  echo
  echo "Finished $(date -u '+%Y-%m-%d %H:%M:%S UTC')."
} >>"$summary"

echo
echo "flake: results ($out)"
for backend in $backends; do
  [ -n "${ran[$backend]:-}" ] || continue
  echo "  $backend: ${passed[$backend]}/${ran[$backend]} passed"
done
for f in "${failures[@]}"; do
  echo "  failed: $f"
done
[ ${#failures[@]} = 0 ] && [ "$interrupted" = 0 ]
