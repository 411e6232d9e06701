# statssummary — build, run and test targets. The machine has 2 cores: targets
# reuse Go's build cache and build tools once (tools/ pins them as `tool`
# directives, run with `go tool -modfile=...`).

SHELL      := /bin/bash
GO         ?= go
BUILD_DIR  := build
COLLECTOR  := $(BUILD_DIR)/otelcol-statssummary/otelcol-statssummary
CONFIG     ?= config/collector.yaml
TOOLS_MOD  := tools/go.mod
LINT_MOD   := tools/lint/go.mod
RECEIVER   := receiver/statssummaryreceiver
# The repository's Go modules (docs/modules.md): the domain (the root: internal/
# and the hack/ tools built on it), the receiver (what a distribution imports)
# and the repo-level suites (test/). Each is vetted, linted and tidied on its own.
MODULES    := . $(RECEIVER) test
CONTAINERD_VERSION ?= 2.4.2
HOST_CGROUP := $(shell [ "$$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] && echo v2 || echo v1)

.PHONY: all generate check-generate build run test test-unit test-crio test-heap test-integration-host test-integration-containerd2 test-vm test-integration runtime-down lint fmt vet tidy bench benchstat bench-ratios bench-pairs bench-load bench-data bench-peer bench-ab bench-node test-bench-smoke bench-steady fuzz fuzz-short soak clean

all: build

## generate: regenerate receiver metadata code and docs from metadata.yaml (mdatagen),
## from scratch: every file mdatagen writes is removed first, so what is committed is
## exactly its output plus the one hand-written file it never touches
## (internal/metadata/emit.go and its test), which must still build against it
generate:
	rm -f $(RECEIVER)/generated_*.go $(RECEIVER)/documentation.md \
	  $(RECEIVER)/internal/metadata/generated_*.go $(RECEIVER)/internal/metadata/testdata/config.yaml \
	  $(RECEIVER)/internal/metadatatest/generated_*.go
	cd $(RECEIVER) && $(GO) tool -modfile=../../$(TOOLS_MOD) mdatagen metadata.yaml
	$(GO) -C $(RECEIVER) vet ./internal/metadata/

## check-generate: fail when `make generate` changes tracked files
check-generate: generate
	@git diff --exit-code -- $(RECEIVER) || { echo "make generate left a diff: commit the regenerated files" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- $(RECEIVER))" || { git status --porcelain -- $(RECEIVER); echo "make generate left untracked files" >&2; exit 1; }

## build: build the custom collector with ocb into build/ (git-ignored)
build:
	@mkdir -p $(BUILD_DIR)
	$(GO) tool -modfile=$(TOOLS_MOD) builder --config builder-config.yaml

## run: build and run the collector with the default config. CRI_ENDPOINT picks the
## runtime; without it and without a runtime socket, a private containerd with demo
## pods is brought up (root; packages installed if missing) and torn down on Ctrl-C.
run: build
	@hack/run.sh $(COLLECTOR) $(CONFIG)

## test: every leg, each named in the log (needs root): the unit and scenario
## tests with the race detector, the CRI-O socket pass, the heap check, the
## integration suite on this host (cgroup v1, cgroupfs driver) with Debian's
## containerd 1.6 and with containerd 2.4.2, the kubelet parity suite, the pod
## metadata against a real API server, the chart and image, the DaemonSet under a
## real kubelet, and the integration suite in the cgroup v2 + systemd VM node.
## containerd 2.4.2, the kubelet, the API server and the VM image are built once
## per machine into $(STATSSUMMARY_CACHE) (hack/lib/cache.sh).
test: test-unit test-crio test-heap test-integration-host test-integration-containerd2 test-parity test-apiserver test-manifests test-daemonset test-bench-smoke test-vm

## test-unit: with the race detector, every package of the root and receiver
## modules, and the test module's manifest and release checks (not its suites on
## real runtimes, which are legs of their own)
test-unit:
	@echo "== leg: unit and scenario tests (race)"
	time $(GO) test -race -count=1 ./...
	time $(GO) -C $(RECEIVER) test -race -count=1 ./...
	time $(GO) -C test test -race -count=1 ./deploy/ ./release/

## test-crio: the CRI, receiver and endpoint tests once more with internal/crifake
## serving its socket as CRI-O does (cmux: a connection whose first request is not
## exactly application/grpc is closed); part of `make test`
test-crio:
	@echo "== leg: CRI, receiver and endpoint tests against crifake's CRI-O socket mode (race)"
	time CRIFAKE_MODE=crio $(GO) test -race -count=1 ./internal/cri/... ./internal/server/...
	time CRIFAKE_MODE=crio $(GO) -C $(RECEIVER) test -race -count=1 \
		-skip '^(TestHeapDoesNotGrowOverScrapes|TestSoak)$$' ./...

## test-heap: the heap-growth check, built without the race detector (its
## shadow memory makes heap figures meaningless)
test-heap:
	@echo "== leg: heap growth over scrapes (no race detector)"
	$(GO) -C $(RECEIVER) test -count=1 -run '^TestHeapDoesNotGrowOverScrapes$$' .

## test-integration-host: the integration suite on this host against Debian's
## containerd 1.6 (root; installs the runtime packages when missing)
test-integration-host:
	@hack/install-runtime.sh
	@echo "== leg: host (cgroup $(HOST_CGROUP)) + containerd 1.6 (Debian, /usr/bin)"
	STATSSUMMARY_CONTAINERD_BIN=/usr/bin $(GO) -C test test -race -count=1 -v ./integration/ 2>&1 | hack/legsummary.sh

## test-integration-containerd2: the integration suite on this host against
## containerd $(CONTAINERD_VERSION), built from the module proxy (cached)
test-integration-containerd2:
	@hack/install-runtime.sh
	@bin=$$(hack/runtimes/containerd.sh $(CONTAINERD_VERSION)) && \
	  echo "== leg: host (cgroup $(HOST_CGROUP)) + containerd $(CONTAINERD_VERSION) ($$bin)" && \
	  STATSSUMMARY_CONTAINERD_BIN=$$bin $(GO) -C test test -race -count=1 -v ./integration/ 2>&1 | hack/legsummary.sh

## test-vm: the integration suite in the cgroup v2 + systemd VM node against
## containerd $(CONTAINERD_VERSION), systemd and cgroupfs drivers (qemu, TCG;
## the image is cached; logs in build/vm/integration)
test-vm:
	@echo "== leg: VM (cgroup v2, systemd init; systemd and cgroupfs drivers) + containerd $(CONTAINERD_VERSION)"
	CONTAINERD_VERSION=$(CONTAINERD_VERSION) hack/vm/integration.sh

## test-integration: only the integration suite on this host with the default
## containerd, verbose (root)
test-integration:
	@hack/install-runtime.sh
	$(GO) -C test test -race -count=1 -v ./integration/

## runtime-down: remove the demo runtime of `make run` and any instance whose owner died
runtime-down:
	$(GO) run ./hack/devruntime down

## lint: golangci-lint (pinned in tools/lint)
lint:
	@set -e; for m in $(MODULES); do echo "golangci-lint: $$m"; \
	  $(GO) -C $$m tool -modfile=$(CURDIR)/$(LINT_MOD) golangci-lint run ./...; done

fmt:
	gofmt -l -w .

vet:
	@set -e; for m in $(MODULES); do echo "go vet: $$m"; $(GO) -C $$m vet ./...; done

tidy:
	@set -e; for m in $(MODULES) tools tools/lint hack/helm hack/image hack/kubelet hack/apiserver; do \
	  echo "go mod tidy: $$m"; $(GO) -C $$m mod tidy; done

## bench: the performance benchmarks (docs/performance.md) — Scrape, RawCRI, Convert
## and SummaryJSON at 10–1000 pods — one package at a time, BENCH_COUNT runs each,
## into BENCH_OUT. BENCH narrows them: make bench BENCH='/pods=(110|1000)/'
BENCH       ?= .
BENCH_COUNT ?= 6
BENCH_OUT   ?= $(BUILD_DIR)/bench/new.txt
BENCHSTAT   := $(GO) tool -modfile=$(TOOLS_MOD) benchstat
bench:
	@mkdir -p $(dir $(BENCH_OUT))
	{ $(GO) -C $(RECEIVER) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) . && \
	  $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) ./internal/server; } | tee $(BENCH_OUT)

## benchstat: compare two bench runs: make benchstat OLD=build/bench/old.txt NEW=build/bench/new.txt
OLD ?= $(BUILD_DIR)/bench/old.txt
NEW ?= $(BENCH_OUT)
benchstat:
	$(BENCHSTAT) $(OLD) $(NEW)

## bench-ratios: the budget's ratios from one run: Scrape against RawCRI, and the
## Summary handler against the static-bytes handler
bench-ratios:
	$(BENCHSTAT) -filter '.name:(Scrape OR RawCRI)' -col .name -row /pods,/containers $(NEW)
	$(BENCHSTAT) -filter '.name:SummaryJSON' -col /handler -row /pods,/containers,/encoding $(NEW)

## bench-pairs: Scrape ÷ RawCRI and ÷ RawCRITrimmed from back-to-back rounds (hack/perf/pairs.sh),
## steadier than bench-ratios on a shared machine: make bench-pairs ROUNDS=11
bench-pairs:
	hack/perf/pairs.sh

## bench-load: the bounded loopback load run of the JSON endpoint (64 clients, fixed
## request count): make bench-load LOADRUN_FLAGS='-pods 1000 -gzip'
LOADRUN_FLAGS ?=
bench-load:
	$(GO) run ./hack/perf/loadrun $(LOADRUN_FLAGS)

## bench-peer: collector against collector, out of process (hack/perf/peer.sh): ours against
## hack/perf/fakecri, kubeletstats v0.164.1 (hack/peer, a module of its own) against the same
## node's Summary over HTTP, each in its own process; CPU per scrape, bytes and allocations per
## data point, the same metric set: make bench-peer SIZES="110x3 1000x3" ROUNDS=3; at the
## default collection interval: make bench-peer INTERVAL=10s WARMUP=2 SCRAPES=6
bench-peer:
	$(if $(SIZES),SIZES='$(SIZES)') $(if $(ROUNDS),ROUNDS='$(ROUNDS)') $(if $(SCRAPES),SCRAPES='$(SCRAPES)') \
	$(if $(WARMUP),WARMUP='$(WARMUP)') $(if $(INTERVAL),INTERVAL='$(INTERVAL)') hack/perf/peer.sh

## bench-ab: ours at two revisions, out of process (hack/perf/peer-ab.sh): hack/peer's driver
## built from OLD_REV and from NEW_REV (the working tree when unset) against one hack/perf/fakecri
## node, alternating round by round, compared with benchstat:
## make bench-ab OLD_REV=HEAD~1 [NEW_REV=rev] [SIZE=110x1] [ROUNDS=12] [SCRAPES=20] (the defaults)
bench-ab:
	$(if $(OLD_REV),OLD_REV='$(OLD_REV)') $(if $(NEW_REV),NEW_REV='$(NEW_REV)') $(if $(SIZE),SIZE='$(SIZE)') $(if $(ROUNDS),ROUNDS='$(ROUNDS)') $(if $(SCRAPES),SCRAPES='$(SCRAPES)') hack/perf/peer-ab.sh

## bench-node: what the node pays per scrape (kubelet + runtime + collector), the kubelet path
## with kubeletstats against our plans (the default config, its runtime stats at every scrape,
## mode cri; NODEBENCH_FLAGS='-plans ...'), on a standalone kubelet's node (hack/perf/nodebench;
## root): make bench-node PODS=110 CONTAINERS=3 [STATSSUMMARY_CONTAINERD_BIN=$$(hack/runtimes/containerd.sh 2.4.2)]
NODEBENCH_FLAGS ?=
bench-node:
	$(GO) -C hack/peer build -o $(CURDIR)/build/peer .
	$(GO) build -o build/nodebench ./hack/perf/nodebench
	@hack/install-runtime.sh
	@set -e; kubelet=$$(hack/runtimes/kubelet.sh); \
	STATSSUMMARY_KUBELET_BIN=$$kubelet build/nodebench \
	  $(if $(PODS),-pods $(PODS)) $(if $(CONTAINERS),-containers $(CONTAINERS)) $(if $(ROUNDS),-rounds $(ROUNDS)) $(NODEBENCH_FLAGS)

## bench-data: regenerate testdata/bench/*.json, the synthetic nodes' Summaries
bench-data:
	$(GO) generate ./internal/benchnode

## bench-steady: the collector's CPU and RSS in steady state (hack/perf/steady-state.sh)
## against a synthetic node (hack/perf/fakecri), or with RUNTIME=containerd against a
## real private containerd running PODS idle pods × CONTAINERS (root; ~8 min at 110):
## make bench-steady RUNTIME=containerd PODS=110 CONTAINERS=1
RUNTIME ?=
bench-steady: build
	RUNTIME='$(RUNTIME)' $(if $(PODS),PODS='$(PODS)') $(if $(CONTAINERS),CONTAINERS='$(CONTAINERS)') hack/perf/steady-state.sh

## fuzz: run each fuzz target for FUZZTIME (default 60s; e.g. FUZZTIME=1000000x), one at a time
## (hack/fuzz.sh: Go 1.26's deadline race at the end of -fuzztime, no input written, runs once more)
FUZZTIME    ?= 60s
FUZZ_TARGETS := internal/cri:FuzzPodStats internal/cri:FuzzTrimmedDecode internal/cri:FuzzStatsDecode internal/cri:FuzzListDecode internal/server:FuzzServeHTTP $(RECEIVER)/internal/convert:FuzzConvert
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  GO='$(GO)' hack/fuzz.sh $${t%%:*} $${t##*:} $(FUZZTIME); \
	done

## fuzz-short: the short fuzz pass CI runs (10 s per target)
fuzz-short:
	$(MAKE) fuzz FUZZTIME=10s

## soak: the receiver under rotating runtime faults and HTTP load for SOAKTIME (default 10m)
SOAKTIME ?= 10m
soak:
	STATSSUMMARY_SOAK=$(SOAKTIME) $(GO) -C $(RECEIVER) test -race -count=1 -timeout 0 -run '^TestSoak$$' -v .

# --- issue 15: the collector with and without its new metrics, interleaved -------
## bench-steady-ab: hack/perf/steady-ab.sh — against one real private containerd running
## PODS × CONTAINERS (default 110 × 3), the collector with issue 15's metrics off, then on,
## ROUNDS times (default 3), WINDOW seconds each; median and range per variant (root).
## STATSSUMMARY_CONTAINERD_BIN=$$(hack/runtimes/containerd.sh) picks containerd 2.4.2.
.PHONY: bench-steady-ab
bench-steady-ab: build
	$(if $(PODS),PODS='$(PODS)') $(if $(CONTAINERS),CONTAINERS='$(CONTAINERS)') $(if $(ROUNDS),ROUNDS='$(ROUNDS)') hack/perf/steady-ab.sh
# --- end issue 15 ------------------------------------------------------------------

clean:
	rm -rf $(BUILD_DIR)

## test-parity: the kubelet parity suite (test/parity; root): a standalone kubelet
## v1.37.2 and our receiver on one private containerd PARITY_CONTAINERD (default
## $(CONTAINERD_VERSION); "system" is Debian's 1.6), every field of both Summaries
## compared (docs/kubelet-parity.md); STATSSUMMARY_CGROUP_DRIVER picks the driver.
## hack/runtimes/*.sh build the kubelet and containerd into the per-machine cache
## the first time (the kubelet: about 5 minutes on 2 idle cores, 50 under load).
PARITY_CONTAINERD ?= $(CONTAINERD_VERSION)
.PHONY: test-parity
test-parity:
	@hack/install-runtime.sh
	@set -e; \
	kubelet=$$(hack/runtimes/kubelet.sh); \
	containerd=$$(hack/runtimes/containerd.sh $(PARITY_CONTAINERD)); \
	echo "== leg: kubelet parity: host (cgroup $(HOST_CGROUP)) + kubelet $$($$kubelet/kubelet --version | cut -d' ' -f2) + containerd $(PARITY_CONTAINERD) ($$containerd)"; \
	STATSSUMMARY_KUBELET_BIN=$$kubelet STATSSUMMARY_CONTAINERD_BIN=$$containerd \
		$(GO) -C test test -race -count=1 -v -timeout 20m ./parity/ 2>&1 | hack/legsummary.sh

## test-apiserver: the optional pod metadata (k8s_api, internal/podmeta) against a
## real kube-apiserver v1.37.2 with etcd 3.7.0 in-process (test/apiserver): pods
## bound to the node, labels, in-place resize, deletes, the RBAC of
## deploy/optional/rbac-podmeta.yaml, and scrapes with the API server stopped and back.
## hack/runtimes/apiserver.sh builds the launcher (hack/apiserver) into the
## per-machine cache the first time (18 minutes on 2 busy cores).
.PHONY: test-apiserver
test-apiserver:
	@set -e; \
	bin=$$(hack/runtimes/apiserver.sh); \
	echo "== leg: pod metadata against a real API server ($$(basename $$bin))"; \
	STATSSUMMARY_APISERVER_BIN=$$bin $(GO) -C test test -race -count=1 -v -timeout 15m ./apiserver/ 2>&1 | hack/legsummary.sh

# ---- Shipping: the image, the chart and its manifests, the DaemonSet on a real kubelet ----
# hack/image and hack/helm are modules of their own: go-containerregistry and
# helm never enter the product's go.mod.

VERSION     := $(shell sed -n 's/^  version: *//p' builder-config.yaml)
IMAGE_REPO  ?= registry.example.com/statssummary/otelcol-statssummary
IMAGE_TAG   ?= $(VERSION)
IMAGE       := $(IMAGE_REPO):$(IMAGE_TAG)
IMAGE_TAR   := $(BUILD_DIR)/image/otelcol-statssummary.tar
# The image's creation time and every file's mtime: the last commit's, so that
# one commit builds one digest.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
GIT_REVISION      := $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
HELM_MOD    := hack/helm
CHART       := deploy/helm/statssummary

.PHONY: image manifests test-manifests test-daemonset

## image: the collector image as a docker-archive tar in build/image/ (no container
## daemon: hack/image, go-containerregistry); `ctr -n k8s.io images import` it
image: build
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) -C hack/image run . \
		-binary $(CURDIR)/$(COLLECTOR) -config $(CURDIR)/config/collector.yaml \
		-license $(CURDIR)/LICENSE -ca-certs /etc/ssl/certs/ca-certificates.crt \
		-version $(VERSION) -revision $(GIT_REVISION) \
		-ref $(IMAGE) -out $(CURDIR)/$(IMAGE_TAR)

## manifests: render deploy/*.yaml from the chart (deploy/helm/statssummary) with its
## default values, through helm's own packages (hack/helm)
manifests:
	rm -f deploy/*.yaml
	$(GO) -C $(HELM_MOD) run . -out-dir $(CURDIR)/deploy -header-chart $(CHART) $(CURDIR)/$(CHART)

## test-manifests: the chart renders, deploy/*.yaml are what it renders, the image
## builder's unit tests (the hack/ modules of this block)
test-manifests:
	@echo "== leg: the chart (helm v3.22.0) and deploy/*.yaml, the image builder"
	cd $(HELM_MOD) && $(GO) test -count=1 ./...
	cd hack/image && $(GO) test -count=1 ./...

## test-bench-smoke: make bench-peer at the smallest size, a few scrapes: the harness builds
## (hack/peer, kubeletstats v0.164.1 in a module of its own), both receivers scrape the same
## node in processes of their own and emit the same data points. No timing is checked.
## The harness's own tests (its table) run first.
test-bench-smoke:
	@echo "== leg: benchmark smoke: make bench-peer at 10 pods × 1, 3 scrapes (no timing checked)"
	$(GO) -C hack/peer test -count=1 ./...
	SIZES=10x1 SCRAPES=3 WARMUP=2 OUT=$(BUILD_DIR)/perf/peer-smoke.txt hack/perf/peer.sh

## test-daemonset: the image and the DaemonSet on real parts (test/daemonset; root):
## make image's archive imported with ctr into a private containerd
## $(CONTAINERD_VERSION) and run through CRI, then the chart's DaemonSet run as a
## static pod under a standalone kubelet v1.37.2, compared with the receiver
## in-process (hack/runtimes/*.sh build both into the per-machine cache once)
test-daemonset: image
	@hack/install-runtime.sh
	@set -e; \
	kubelet=$$(hack/runtimes/kubelet.sh); \
	containerd=$$(hack/runtimes/containerd.sh $(CONTAINERD_VERSION)); \
	echo "== leg: image and DaemonSet: $(IMAGE) on containerd $(CONTAINERD_VERSION) and kubelet $$($$kubelet/kubelet --version | cut -d' ' -f2), host (cgroup $(HOST_CGROUP))"; \
	STATSSUMMARY_KUBELET_BIN=$$kubelet STATSSUMMARY_CONTAINERD_BIN=$$containerd \
	STATSSUMMARY_IMAGE=$(CURDIR)/$(IMAGE_TAR) STATSSUMMARY_IMAGE_REF=$(IMAGE) \
		$(GO) -C test test -race -count=1 -v -timeout 20m ./daemonset/ 2>&1 | hack/legsummary.sh
