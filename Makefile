# cluster-api-provider-vpsie
#
# Every tool is pinned in hack/tools/go.mod and run with `go tool`; the envtest
# control plane is built from source by hack/kube-assets.sh. Nothing is
# downloaded but Go modules.

SHELL := /usr/bin/env bash -o errexit -o pipefail -o nounset
.DEFAULT_GOAL := help

VERSION ?= v0.1.0-dev
BIN_DIR := bin
TOOLS := go tool -modfile=hack/tools/go.mod
CONTROLLER_GEN := $(TOOLS) controller-gen
KUSTOMIZE := $(TOOLS) kustomize
GOLANGCI_LINT := $(TOOLS) golangci-lint
LDFLAGS := -X github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie.Version=$(VERSION)
# Client statement coverage the tests must keep (issue 2).
CLIENT_COVERAGE_MIN ?= 85
GO_TEST_FLAGS ?= -race -count=1
# Release artifacts (make release-manifests): the version of the clusterctl repository in out/ and the
# manager image's default (a variable, CAPVPSIE_IMAGE, in infrastructure-components.yaml).
RELEASE_VERSION ?= v0.1.0
IMAGE ?= ghcr.io/vpsieinc/cluster-api-provider-vpsie
RELEASE_DIR ?= out
TEST_TIMEOUT ?= 40m

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the manager and the VPSie simulator into bin/.
	go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/manager .
	go build -trimpath -o $(BIN_DIR)/vpsie-sim ./test/vpsiesim/cmd/vpsie-sim

.PHONY: image
image: ## Build the manager's OCI image for linux/amd64 and linux/arm64 into bin/manager-image.tar (no container engine, no base image pulled); PUSH=<name:tag> also pushes it.
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(BIN_DIR)/manager-linux-$$arch . ; \
	done
	go run ./hack/image -out $(BIN_DIR)/manager-image.tar -version $(VERSION) \
	  -revision "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	  -binary linux/amd64=$(BIN_DIR)/manager-linux-amd64 -binary linux/arm64=$(BIN_DIR)/manager-linux-arm64 \
	  $(if $(PUSH),-push "$(PUSH)")

.PHONY: kube-assets
kube-assets: ## Build kube-apiserver and etcd for envtest (cached outside the clone).
	hack/kube-assets.sh

.PHONY: test
test: ## Run every test: unit, envtest integration (builds the control plane first).
	@mkdir -p $(BIN_DIR)
	assets="$$(hack/kube-assets.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go test $(GO_TEST_FLAGS) -timeout $(TEST_TIMEOUT) \
		-coverpkg=./pkg/vpsie -coverprofile=$(BIN_DIR)/client.cover ./...
	hack/check-coverage.sh $(BIN_DIR)/client.cover $(CLIENT_COVERAGE_MIN)

.PHONY: generate
generate: ## Generate deep-copy code and manifests (CRDs, RBAC, webhooks).
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) webhook paths=./pkg/webhooks/... output:webhook:artifacts:config=config/webhook
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./controllers/... output:rbac:artifacts:config=config/rbac

.PHONY: verify
verify: generate ## Check generated files are current, then gofmt, vet, lint and actionlint (the GitHub workflows).
	@git diff --exit-code -- api config || { echo "generated files are stale: run make generate and commit"; exit 1; }
	@bad="$$(gofmt -l $$(git ls-files '*.go'))"; [ -z "$$bad" ] || { echo "gofmt needed:"; echo "$$bad"; exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	$(TOOLS) actionlint

.PHONY: release-manifests
release-manifests: ## clusterctl components, metadata, flavors and a local clusterctl repository into out/.
	OUT_DIR=$(RELEASE_DIR) RELEASE_VERSION=$(RELEASE_VERSION) IMAGE=$(IMAGE) hack/release-manifests.sh

.PHONY: test-e2e
test-e2e: ## Run only the end-to-end scenarios (test/e2e: CAPI core + the provider's manager + the simulator).
	assets="$$(hack/kube-assets.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -timeout $(TEST_TIMEOUT) -v ./test/e2e/...

.PHONY: test-chaos
test-chaos: ## Run only the chaos scenario (test/e2e TestChaos, also part of make test).
	assets="$$(hack/kube-assets.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go test -count=1 -timeout $(TEST_TIMEOUT) -v -run 'TestChaos$$' ./test/e2e/

.PHONY: bench
bench: ## Measure API calls per machine lifecycle, time to scale, 429s and idle cost, shared list vs per-machine polling (outside make test; BENCH_* knobs in test/bench).
	assets="$$(hack/kube-assets.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go run ./test/bench

.PHONY: demo
demo: ## Run the whole provider against the simulator: a cluster scaled up and down, with progress and a summary.
	assets="$$(hack/kube-assets.sh)"; \
	KUBEBUILDER_ASSETS="$$assets" go run ./test/e2e/cmd/demo

.PHONY: clean
clean: ## Remove build output (not the kube-assets cache).
	rm -rf $(BIN_DIR) out
