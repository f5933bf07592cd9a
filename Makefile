# pve-operator Makefile. `make help` lists the targets.

# Image used by docker-build and deploy.
IMG ?= ghcr.io/pve-operator/pve-operator:dev

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

GO ?= go
BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(GO) tool controller-gen
# kube-apiserver, etcd and kubectl built from Go modules (see hack/envtest).
ENVTEST_ASSETS := $(BIN)/k8s
KUBECTL ?= $(ENVTEST_ASSETS)/kubectl
GOLANGCI_LINT := $(BIN)/golangci-lint
# Go test flags; e.g. make test TEST_FLAGS='-run TestAPI -v'.
TEST_FLAGS ?=

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: generate
generate: ## Generate DeepCopy methods (api/**/zz_generated.deepcopy.go).
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) crd rbac:roleName=manager-role paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	mkdir -p charts/pve-operator/files/crds && cp config/crd/bases/*.yaml charts/pve-operator/files/crds/

.PHONY: verify-generated
verify-generated: ## Fail when committed generated files differ from a fresh `make generate manifests`.
	hack/verify-generated.sh

.PHONY: verify-fmt
verify-fmt: ## Fail when a Go file is not gofmt-formatted.
	@files=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^hack/envtest/')); \
	if [ -n "$$files" ]; then echo "not gofmt-formatted: $$files (run make fmt)" >&2; exit 1; fi

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -s -w $$(git ls-files '*.go' | grep -v '^hack/envtest/')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint with the linters listed in .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: golangci-lint
golangci-lint: ## Build golangci-lint (pinned in hack/tools) into bin/.
	cd hack/tools && $(GO) build -o $(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd and kubectl (cached outside the clone) and link them into bin/k8s.
	hack/envtest/build.sh

.PHONY: test
test: verify-generated verify-fmt vet lint envtest ## Check generated files are fresh, lint, then run every test against a real apiserver.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test ./... -count=1 -timeout 30m $(TEST_FLAGS)

# Sizes of the long fault and crash runs (make test runs 12 Applications and 20 kill points).
FAULT_APPS ?= 60
CRASH_KILLS ?= 200
CRASH_SEED ?= 1
# Simulator restarts mid-create of the Proxmox-side crash run (make test runs 3).
PVE_KILLS ?= 20

.PHONY: test-faults
test-faults: envtest ## Fault suite at FAULT_APPS Applications, SIGKILL crash-consistency over CRASH_KILLS kill points and PVE_KILLS simulator restarts (seed CRASH_SEED).
	FAULT_APPS=$(FAULT_APPS) CRASH_KILLS=$(CRASH_KILLS) PVE_KILLS=$(PVE_KILLS) CRASH_SEED=$(CRASH_SEED) KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) \
		$(GO) test ./test/faults ./test/crash -count=1 -p 1 -v -timeout 90m $(TEST_FLAGS)

# Benchmark size and extra pvebench flags, e.g. make bench BENCH_N=1000 BENCH_FLAGS='-create 2s -start 1s -json'.
BENCH_N ?= 100
BENCH_FLAGS ?=

.PHONY: bench
bench: envtest ## Run cmd/pvebench (the manager binary against the simulator) with BENCH_N Applications.
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) run ./cmd/pvebench -n $(BENCH_N) $(BENCH_FLAGS)

##@ Build

.PHONY: build
build: ## Build the manager and simulator binaries into bin/.
	CGO_ENABLED=0 $(GO) build -o $(BIN)/manager ./cmd/manager
	CGO_ENABLED=0 $(GO) build -o $(BIN)/pvesim ./cmd/pvesim

.PHONY: dev
dev: envtest ## Run the operator on its embedded default: local control plane + Proxmox simulator (Ctrl-C stops).
	$(GO) build -o $(BIN)/pve-dev ./hack/dev
	$(BIN)/pve-dev

.PHONY: run
run: ## Run the manager against the cluster in $$KUBECONFIG.
	$(GO) run ./cmd/manager

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in $$KUBECONFIG.
	$(KUBECTL) apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every object of these kinds!).
	$(KUBECTL) delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator into the cluster in $$KUBECONFIG.
	cd config/manager && $(KUBECTL) kustomize . >/dev/null
	$(KUBECTL) apply --server-side -k config/default

.PHONY: undeploy
undeploy: ## Remove the operator.
	$(KUBECTL) delete --ignore-not-found -k config/default
