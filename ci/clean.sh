#!/usr/bin/env bash
# Removes every container and network labelled as faultline's, whatever run made it.
set -uo pipefail
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  ids=$(docker ps -aq --filter label=faultline.run)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  nets=$(docker network ls -q --filter label=faultline.run)
  [ -z "$nets" ] || docker network rm $nets >/dev/null
fi
echo "clean: no faultline container or network left"
