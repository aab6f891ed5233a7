# ModScope — everything from a fresh Debian machine:
#   make demo   installs missing system packages, builds, runs the pipeline on examples/digits
#   make test   installs missing system packages, builds and runs the whole test suite
SHELL := /bin/bash
APT_PACKAGES := libzmq3-dev libopenblas-dev liblapacke-dev zlib1g-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CONFIG ?= release
SWIFT_FLAGS := -c $(CONFIG)
BIN = $(shell swift build $(SWIFT_FLAGS) --show-bin-path)/modscope

.PHONY: all deps build test demo bench lint clean

all: build

# Install only what is missing (dpkg -s is silent and fast when everything is there).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build $(SWIFT_FLAGS) --product modscope

# Tests use a debug build (fixtures are small; the whole suite takes well under a minute once built).
# The log is kept so CI can check that tests actually ran.
test: deps
	@mkdir -p .build
	set -o pipefail; swift test 2>&1 | tee .build/test.log
	@scripts/check-test-count.sh .build/test.log

demo: build
	scripts/demo.sh "$(BIN)"

bench: build
	"$(BIN)" bench engine

clean:
	rm -rf .build runs

# Static checks of the launchers (Dockerfile, compose, Kubernetes manifests, Slurm and other scripts); the
# tools are installed on first use (scripts/lint.sh says which and how).
lint:
	scripts/lint.sh
