GOLANGCI_VERSION := v2.6.2
GOBIN := $(shell go env GOPATH)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test test-short lint run bench bench-proxy fuzz

build:
	go build -ldflags "-X main.version=$(VERSION)" -o bin/sluice ./cmd/sluice

# The whole test suite (what CI runs).
test:
	go test -race -count=1 ./...

test-short:
	go test -short ./...

# Runs the example config in DB-less mode on the default ports.
run: build
	KONG_DATABASE=off KONG_DECLARATIVE_CONFIG=examples/kong.yml ./bin/sluice start -p ./sluice-prefix

lint:
	go vet ./...
	@test -x $(GOBIN)/golangci-lint || go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(GOBIN)/golangci-lint run ./...

bench:
	go test -run '^$$' -bench . -benchmem ./internal/router ./internal/snapshot ./internal/proxy ./internal/upstream

# The side-by-side proxy benchmark (sluice, nginx, a Go floor); see bench/README.md.
# Installs nginx and wrk with apt-get on first use. About 17 minutes.
bench-proxy:
	go run ./bench/proxy

fuzz:
	go test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/declarative
