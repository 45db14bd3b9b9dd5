# faultline — every target is one command; the scripts under ci/ hold the steps.
# A fresh machine needs only Go and (for the docker runtime) a Docker engine: each
# target builds what it needs itself, and bin/ only caches it.

GO       ?= go
BIN      := $(CURDIR)/bin
export CGO_ENABLED = 0
export FAULTLINE_ETCD ?= $(BIN)/etcd

.PHONY: run test bench images build clean vet

## run: run the resilience suite (docker where an engine answers, else local) and leave reports/latest/index.html
run: build
	$(BIN)/faultline run

## test: every test: unit, service, harness and scenario suites
test:
	bash ci/test.sh

## bench: every benchmark under bench/, each figure next to its baseline from the same run, into BENCHMARKS.md
bench: build
	bash ci/bench.sh

## images: build every scratch image offline
images: build
	bash ci/images.sh

## build: the static binaries of the reference system, the CLI and etcd
build:
	bash ci/build.sh

## clean: remove every leftover container and network of faultline runs (local processes die with their run)
clean:
	bash ci/clean.sh

vet:
	$(GO) vet ./...
