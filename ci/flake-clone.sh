#!/usr/bin/env bash
# Flake hunt on clean clones (ci/flake.sh with MODE=clone): N times, clone HEAD into a
# fresh temporary directory and run the README's test command there exactly as CI does
# (`CI=true make test` with no standard input), never stopping at a failure. HOG=1 keeps
# one core busy for the whole hunt. Writes reports/flake-clone-<time>/summary.md: each
# run's verdict, time, load and failing tests, and the pass count; each run's log and
# the scenario suite's saved outcomes and history (run-N-report/) beside. Edit this
# script only while no hunt runs: bash reads it as it goes.
#
#   bash ci/flake-clone.sh 10            # or MODE=clone bash ci/flake.sh 10
#   HOG=1 bash ci/flake-clone.sh 3
#
# A clone has what is committed and nothing else: commit before a hunt. Exits non-zero
# when any run failed or the hunt was interrupted.
set -uo pipefail
cd "$(dirname "$0")/.."

n=${1:-${N:-10}}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "flake-clone: N=$n is not a positive whole number: give the number of runs, e.g. bash ci/flake-clone.sh 3" >&2
  exit 2
fi
hog=${HOG:-0}
case $hog in
0 | 1) ;;
*)
  echo "flake-clone: HOG=$hog: use 1 (one core kept busy) or 0 (none)" >&2
  exit 2
  ;;
esac
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "flake-clone: note: the work tree has uncommitted changes; the clones test HEAD without them" >&2
fi

repo=$PWD
commit=$(git rev-parse --short HEAD)
out="$repo/reports/flake-clone-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
summary="$out/summary.md"
work=$(mktemp -d "${TMPDIR:-/tmp}/faultline-flake-clone.XXXXXX")

hog_pid=""
start_hog() {
  [ "$hog" = 1 ] || return 0
  local cpu=$(($(nproc) - 1))
  if command -v taskset >/dev/null 2>&1; then
    taskset -c "$cpu" bash -c 'while :; do :; done' &
  else
    bash -c 'while :; do :; done' &
  fi
  hog_pid=$!
}
stop_hog() {
  [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null && wait "$hog_pid" 2>/dev/null
  hog_pid=""
}
# dead_owned counts what LIST (docker ps -aq, docker network ls -q) shows of faultline
# runs whose faultline.pid process no longer lives; INSPECT reads each one's labels.
dead_owned() {
  local n=0 id pid
  for id in $($1 --filter label=faultline.run); do
    pid=$($2 --format '{{index .Labels "faultline.pid"}}' "$id" 2>/dev/null)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      n=$((n + 1))
    fi
  done
  echo "$n"
}
interrupted=0
cleanup() { stop_hog; rm -rf "$work"; }
trap 'interrupted=1' INT TERM
trap cleanup EXIT

load="none beside the suite"
[ "$hog" = 1 ] && load="one core kept busy (a busy loop pinned to CPU $(($(nproc) - 1)))"
{
  echo "# flake (clean clones): $n run(s) of \`CI=true make test\`"
  echo
  echo "Started $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname) ($(nproc) cores); commit $commit; load: $load."
  echo
} >"$summary"

passed=0
ran=0
start_hog
for i in $(seq 1 "$n"); do
  [ "$interrupted" = 1 ] && break
  clone="$work/run-$i"
  log="$out/run-$i.log"
  rm -rf "$clone"
  if ! git clone -q "$repo" "$clone" 2>"$log"; then
    echo "flake-clone: could not clone $repo (see $log)" >&2
    break
  fi
  git -C "$clone" checkout -q "$commit"
  echo "flake-clone: run $i/$n on a clean clone of $commit (log: $log)" >&2
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s)
  # The scenario suite saves every outcome and its history beside the log, so that a
  # failed run can be read (and rendered: bin/faultline report DIR) after its clone is gone.
  (cd "$clone" && CI=true FAULTLINE_REPORT_DIR="$out/run-$i-report" make test </dev/null >>"$log" 2>&1)
  rc=$?
  took=$(($(date +%s) - start))
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  [ "$interrupted" = 1 ] && { echo "flake-clone: interrupted during run $i: not counted" >&2; break; }
  ran=$((ran + 1))
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    echo "flake-clone: run $i/$n passed in ${took}s" >&2
    echo "- run $i passed in ${took}s (load average before $load_before, after $load_after)" >>"$summary"
  else
    # Ginkgo colours its lines even under CI: strip the colours to find the failed specs.
    failed=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(--- FAIL|FAIL\s|\s*\[FAIL\])' | sed -E 's/^\s+//' | sort -u | head -8)
    echo "flake-clone: run $i/$n FAILED in ${took}s (exit $rc); log $log" >&2
    [ -n "$failed" ] && echo "$failed" | sed 's/^/    /' >&2
    {
      echo "- **run $i failed** in ${took}s, exit $rc (load average before $load_before, after $load_after), log \`$log\`"
      [ -n "$failed" ] && echo "$failed" | sed 's/^/  - /'
    } >>"$summary"
  fi
  # Whatever a run left behind is a leak, and counts against it in the summary: the
  # containers and networks of faultline runs whose owning process is gone (another
  # run that is still alive on this machine is not this one's leak).
  if command -v docker >/dev/null 2>&1; then
    left=$(dead_owned "docker ps -aq" "docker inspect")
    nets=$(dead_owned "docker network ls -q" "docker network inspect")
    if [ "$left" != 0 ] || [ "$nets" != 0 ]; then
      echo "  - left behind: $left container(s), $nets network(s)" >>"$summary"
      echo "flake-clone: run $i left $left container(s) and $nets network(s) behind" >&2
    fi
  fi
  rm -rf "$clone"
done
stop_hog

{
  echo
  echo "## Result"
  echo
  echo "- $passed/$ran passed"
  [ "$interrupted" = 1 ] && echo "- interrupted: fewer runs than asked"
  echo
  echo "Finished $(date -u '+%Y-%m-%d %H:%M:%S UTC')."
} >>"$summary"
echo
echo "flake-clone: $passed/$ran passed on clean clones of $commit ($summary)"
[ "$passed" = "$ran" ] && [ "$ran" = "$n" ] && [ "$interrupted" = 0 ]
