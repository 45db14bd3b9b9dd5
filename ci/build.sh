#!/usr/bin/env bash
# Builds every static binary into bin/: the reference services, the CLI and etcd.
# etcd is built from its Go module (go.mod's tool directive), about 90 s cold; the Go
# build cache makes every later build take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
mkdir -p bin
echo "build: reference services and CLI" >&2
go build -trimpath -o bin/ ./reference-services/cmd/... ./cmd/...
if [ ! -x bin/etcd ] || [ go.mod -nt bin/etcd ] || [ go.sum -nt bin/etcd ]; then
  echo "build: etcd from go.etcd.io/etcd/server/v3 (about 90 s the first time)" >&2
  go build -trimpath -o bin/etcd.tmp go.etcd.io/etcd/server/v3
  mv bin/etcd.tmp bin/etcd
fi
