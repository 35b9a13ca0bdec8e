# agentline — see README.md. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
GO ?= go
GOTEST_FLAGS ?= -race -count=1 -timeout 40m
STACK := $(GO) run ./hack/stack

.PHONY: all build test unit lint testbin stack-up stack-down stack-status stack-env stack-cycle codex deps fuzz ko images demo demo-review demo-close

all: build

## build: compile every binary under cmd/ into bin/
build:
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

## demo: the whole loop on this machine: an issue labelled [ai-dev] ends as a draft pull request
## (OPENAI_API_KEY set: the real model instead of the scripted one)
demo: deps testbin codex stack-up
	@$(GO) build -o bin/demo ./hack/demo
	@bin/demo run
## demo-review: request changes on the demo's pull request; the agent addresses them
demo-review:
	@$(GO) build -o bin/demo ./hack/demo
	@bin/demo review
## demo-close: merge the demo's pull request; the slot is released and its environment destroyed
demo-close:
	@$(GO) build -o bin/demo ./hack/demo
	@bin/demo close

## test: lint, build the test binaries, start the local stack if needed, run every test (unit, integration, e2e)
test: lint testbin codex stack-up
	$(GO) test $(GOTEST_FLAGS) ./...

## unit: the tests that need no stack (tests that need one skip with a message unless CI=true)
unit:
	$(GO) test $(GOTEST_FLAGS) -short ./...

## lint: gofmt check and go vet
lint:
	@unformatted=$$(find . -name '*.go' -not -path './.stack/*' -not -path './bin/*' -not -path './.cache/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## testbin: build the local stack's binaries from pinned modules into bin/testbin (cached by version)
testbin:
	@hack/testbin.sh

## codex: install the Codex CLI (npm) into the cache folder
codex:
	@if [ -x hack/codex.sh ]; then hack/codex.sh; fi

## deps: install the Debian packages the tests need
deps:
	@hack/deps.sh

## stack-up / stack-down / stack-status / stack-env: the local Kubernetes + Tekton stack with a
## real node (containerd, kubelet, kube-proxy, CoreDNS) and, for the tests' scripted pods, kwok's
## fake node (STACK_UP_FLAGS); stack-up also builds and pushes the node's images (make images)
STACK_UP_FLAGS ?= --kwok
stack-up: testbin
	@$(STACK) up $(STACK_UP_FLAGS)
	@hack/ko.sh images
stack-down:
	@$(STACK) down
stack-status:
	@$(STACK) status
stack-env:
	@$(STACK) env

FUZZTIME ?= 30s
## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## stack-cycle: stack up + one pod + stack down, ten times; fails if mounts, links, cgroups or .stack/ grow
stack-cycle: testbin
	@hack/stack-cycle.sh 10

## images: build the node's images (pause, bases, Tekton's, agentline's with ko) into the stack's registry
images:
	@hack/ko.sh images

## ko: build agentline's images with ko (bases made locally) and resolve config/ into bin/agentline.yaml
ko: testbin stack-up
	@hack/ko.sh resolve
