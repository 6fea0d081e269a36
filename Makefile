# The project's commands. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 3s
FUZZ_PKG := ./internal/layout

.PHONY: demo test check zookeeper burrow unit fuzz build bench bench-short

## demo: install ZooKeeper if missing, build groupctl, run its demo (flags: make demo ARGS="--messages 50000").
demo: zookeeper build
	bin/groupctl demo $(ARGS)

## build: the groupctl binary, in bin/.
build:
	$(GO) build -o bin/groupctl ./cmd/groupctl

## test: install ZooKeeper and Burrow if missing, check formatting, vet, run every test with -race, fuzz briefly.
test: zookeeper burrow check unit fuzz

## zookeeper: install Debian's ZooKeeper when it is missing.
zookeeper:
	@scripts/ensure-zookeeper.sh

## burrow: install Debian's Burrow (TestBurrow runs it) when it is missing.
burrow:
	@scripts/ensure-burrow.sh

## check: gofmt and go vet.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## unit: the test suite, with the race detector.
unit:
	$(GO) test -race -count=1 ./...

## fuzz: each fuzz target of the parsers of data read from ZooKeeper, for FUZZTIME.
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' $(FUZZ_PKG) | grep '^Fuzz'); do \
		echo "fuzz $$f ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $(FUZZ_PKG) || exit 1; \
	done

## bench: install ZooKeeper if missing, run the benchmarks against franz-go and sarama (about 12 minutes); writes bench/RESULTS.md.
bench: zookeeper
	cd bench && $(GO) run ./cmd/bench

## bench-short: the benchmarks at small sizes (under 2 minutes); writes bench/RESULTS-short.md.
bench-short: zookeeper
	cd bench && $(GO) run ./cmd/bench -short
