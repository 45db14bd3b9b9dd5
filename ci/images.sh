#!/usr/bin/env bash
# Builds one scratch image per binary from fixtures/Dockerfile, offline: nothing is pulled.
set -euo pipefail
cd "$(dirname "$0")/.."
for bin in registry gateway accounts inventory orders etcd; do
  ctx=$(mktemp -d)
  mkdir -p "$ctx/data"
  cp "bin/$bin" "$ctx/app"
  cp fixtures/Dockerfile "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --label faultline.image=true -t "faultline/$bin:dev" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "image faultline/$bin:dev"
done
