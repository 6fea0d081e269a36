# The project's commands. `make test` is what CI runs.
GO ?= go
FUZZTIME ?= 3s
FUZZ_PKG := ./internal/layout

# ZOOKEEPER=debian|maven chooses the ZooKeeper the demo, the tests and the benchmarks start: Debian's package
# (apt-get) or ZooKeeper 3.8 from Maven Central (Java and Maven: macOS too). Unset: whichever is installed,
# Debian's first; else Debian's package where apt-get may install it, else Maven Central's (scripts/ensure-zookeeper.sh).
ifdef ZOOKEEPER
export CONSUMERGROUP_ZOOKEEPER_JARS := $(ZOOKEEPER)
endif

.PHONY: release-check compat demo test check zookeeper kafka kafka-for-demo chromium burrow iproute2 unit e2e fuzz build bench bench-short bench-scale screenshot

## demo: install ZooKeeper if missing, build groupctl, run its demo (flags: make demo ARGS="--messages 50000";
## ARGS="--kafka apache" runs it on a real Apache Kafka 3.9 broker, fetched from Maven Central first;
## ZOOKEEPER=maven takes ZooKeeper from Maven Central instead of Debian's package).
demo: zookeeper kafka-for-demo build
	bin/groupctl demo $(ARGS)

## kafka-for-demo: fetch Kafka 3.9's jars when the demo runs on a real broker.
kafka-for-demo:
	@case "$(ARGS)" in *apache*) scripts/ensure-kafka.sh kafka-3.9 ;; esac

## build: the groupctl binary, in bin/.
build:
	$(GO) build -o bin/groupctl ./cmd/groupctl

## test: install ZooKeeper, Apache Kafka's jars, Burrow, Chromium and iproute2 if missing, check formatting, vet,
## run every test with -race (the behaviour suites on kfake, Kafka 3.9 and Kafka 4; Burrow on our groups; the
## browser test of groupctl serve; real packet loss in network namespaces, as root), fuzz briefly.
test: zookeeper kafka burrow chromium iproute2 check unit e2e fuzz

## zookeeper: install ZooKeeper when it is missing: Debian's package, or Maven Central's (ZOOKEEPER=maven, or where
## apt-get is not usable).
zookeeper:
	@scripts/ensure-zookeeper.sh

## kafka: fetch Apache Kafka 4.x and 3.9's jars from Maven Central when missing (once; see scripts/ensure-kafka.sh).
kafka:
	@scripts/ensure-kafka.sh
	@scripts/ensure-kafka.sh --report

## chromium: install Debian's chromium when it is missing (the browser test of groupctl serve).
chromium:
	@scripts/ensure-chromium.sh

## burrow: install Debian's Burrow (TestBurrow runs it) when it is missing.
burrow:
	@scripts/ensure-burrow.sh

## iproute2: install iproute2's ip when it is missing and this is root (the tests of real packet loss).
iproute2:
	@scripts/ensure-iproute2.sh

## check: gofmt, go vet and staticcheck (scripts/staticcheck.sh installs its pinned version when missing).
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd plugin/cgprom && $(GO) vet ./...
	cd e2e && $(GO) vet ./...
	@GO=$(GO) scripts/staticcheck.sh

## unit: the test suite, with the race detector.
unit:
	$(GO) test -race -count=1 -timeout 30m ./...
	cd plugin/cgprom && $(GO) test -race -count=1 ./...

## e2e: groupctl serve in Chromium, with a consuming group (its own module: chromedp, Prometheus' parser).
e2e: zookeeper chromium
	cd e2e && $(GO) test -race -count=1 ./...

## screenshot: run the browser test and write its screenshot to docs/groupctl-serve.png.
screenshot: zookeeper chromium
	cd e2e && $(GO) test -race -count=1 -run TestServeInChromium -update-screenshot ./...

## fuzz: each fuzz target of the parsers of data read from ZooKeeper, for FUZZTIME. A run that ends in
## "context deadline exceeded" without a failing input (Go's fuzzing engine missing its own deadline while a
## worker is busy) is run once more; a failing input always fails.
FUZZ_RUN = $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x $(FUZZ_PKG)
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' $(FUZZ_PKG) | grep '^Fuzz'); do \
		echo "fuzz $$f ($(FUZZTIME))"; \
		out=$$($(FUZZ_RUN) 2>&1); rc=$$?; echo "$$out"; \
		if [ $$rc -ne 0 ]; then \
			if echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
				echo "fuzz $$f: the fuzzing engine missed its deadline (no failing input): once more"; \
				$(FUZZ_RUN) || exit 1; \
			else exit 1; fi; \
		fi; \
	done

## bench: install ZooKeeper if missing, run the benchmarks against franz-go and sarama (about 12 minutes); writes bench/RESULTS.md.
bench: zookeeper kafka
	cd bench && $(GO) run ./cmd/bench

## bench-short: the benchmarks at small sizes (under 2 minutes); writes bench/RESULTS-short.md.
bench-short: zookeeper kafka
	cd bench && $(GO) run ./cmd/bench -short

## bench-scale: the scale curve (issue 19): 10 to 500 members × 1,000 and 10,000 partitions on ZooKeeper, Kafka classic
## and KIP-848, franz-go's bare group consumers and its direct consumer's take-overs (herd), kfake in its own process
## (about 45 minutes on 2 cores; each convergence is bounded by -cell-timeout, 2 min); writes bench/RESULTS-scale.md. SCALE_ARGS overrides the grid, e.g. SCALE_ARGS="-members 10,50 -partitions 1000 -systems zk".
SCALE_ARGS ?= -members 10,50,100,200,500 -partitions 1000,10000 -systems zk,classic,848,bare,herd
bench-scale: zookeeper
	cd bench && $(GO) run ./cmd/bench -only scale -kafka kfake-proc $(SCALE_ARGS)

## compat: the ZooKeeper coordinator's smoke scenario on ZooKeeper 3.5 to 3.9 and on Apache Kafka 2.8, 3.6 and 3.9 in
## ZooKeeper mode, each fetched from Maven Central once (outside make test; about a minute once fetched). COMPAT selects
## targets, e.g. COMPAT="zookeeper-3.5 kafka-2.8"; prints the results table (docs/TESTING.md) and writes bin/compat.md.
compat:
	@GO=$(GO) COMPAT="$(COMPAT)" scripts/compat.sh

## release-check: the release checks alone (RELEASING.md): plugin/cgprom requires a released version of the root, and
## `go get` of the plugin at that version works outside the repository, from a local module proxy built from this checkout
## (offline). Part of `make test` too.
release-check:
	$(GO) test -count=1 -v -run 'TestPlugin' ./internal/releasecheck
