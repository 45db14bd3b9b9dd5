#!/usr/bin/env bash
# Removes every container and network labelled as faultline's, whatever run made it:
# `faultline clean`, by label through the Docker API, when an engine answers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x bin/faultline ] && bin/faultline help 2>/dev/null | grep -q 'faultline clean'; then
  exec bin/faultline clean
fi
exec go run ./cmd/faultline clean
