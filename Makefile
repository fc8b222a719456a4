# voiceagent developer commands. `make run` and `make test` are the README's
# quick start; both work on a fresh clone with no environment set.
GO        ?= go
BIN       ?= bin/voiceagent
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
IMAGE     ?= voiceagent:$(VERSION)

.PHONY: run test build lint migrate docker fuzz soak check simulate load load-pg deps screenshots

## run: start the server on embedded defaults (SQLite under ./data, port 8080)
run:
	$(GO) run ./cmd/voiceagent serve

## test: vet and the whole test suite with the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## screenshots: the dashboard's README screenshots (docs/screenshots), taken by its headless-Chromium test
screenshots:
	mkdir -p docs/screenshots
	VOICEAGENT_REQUIRE_BROWSER=1 VOICEAGENT_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run TestDashboardInABrowser ./internal/httpapi

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/voiceagent

## lint: gofmt, vet and staticcheck
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo 'gofmt needed' && exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## deps: list module updates, then govulncheck when its database (GOVULNDB) is reachable
deps:
	.ci/deps.sh

## migrate: apply database migrations and exit
migrate:
	$(GO) run ./cmd/voiceagent migrate

## check: print the configuration's security checklist
check:
	$(GO) run ./cmd/voiceagent check

## docker: build the container image (needs a Docker engine)
docker:
	docker build -t $(IMAGE) --build-arg VERSION=$(VERSION) .

## simulate: play every call scenario against an in-process server (no account needed)
simulate:
	$(GO) run ./cmd/voiceagent simulate

## load: call load benchmark (CALLS, DURATION, RAMP) then the webhook benchmark; see BENCHMARKS.md
CALLS    ?= 200
DURATION ?= 30s
RAMP     ?= 10s
load: build
	$(BIN) simulate --load --calls $(CALLS) --duration $(DURATION) --ramp $(RAMP)
	$(BIN) simulate --webhooks --concurrency 64 --duration 10s

## load-pg: the webhook benchmark on a private fsync-on PostgreSQL (PGDIR, PGPORT); see scripts/pg-admission-bench.sh
load-pg:
	scripts/pg-admission-bench.sh

## soak: churn calls for 10 minutes sampling goroutines, heap and RSS (not in CI)
soak: build
	$(BIN) simulate --soak --calls 50 --call-length 20s --duration 10m --every 30s

## fuzz: every fuzz target for FUZZTIME (default 10s) each
fuzz:
	.ci/fuzz.sh
