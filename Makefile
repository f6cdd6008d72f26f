# gan1d: the two commands a new user types are `make train` and `make test`.
#
# libtorch comes from one of two places:
#   - LIBTORCH set in the environment: that libtorch is used as it is;
#   - otherwise a Python virtual environment holding torch==$(TORCH_VERSION) from PyPI,
#     created once in a cache folder shared by every clone (about 4.7 GB) and reused after.

TORCH_VERSION := 2.13.0
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gan1d
VENV ?= $(CACHE_DIR)/venv
STAMP := $(VENV)/.gan1d-torch-$(TORCH_VERSION)
# What the export check loads each exported format with (bench/export_check.sh).
EXPORT_CHECK_PACKAGES := safetensors==0.8.0 onnxruntime==1.32.0
EXPORT_STAMP := $(VENV)/.gan1d-export-check
PYTHON ?= python3

ifdef LIBTORCH
TORCH_DEP :=
TORCH_ENV :=
TEST_DEP :=
else
TORCH_DEP := $(STAMP)
TEST_DEP := $(EXPORT_STAMP)
TORCH_ENV := VIRTUAL_ENV="$(VENV)" PATH="$(VENV)/bin:$$PATH" LIBTORCH_USE_PYTORCH=1
endif

# The main job's fixed seed: `make train` reproduces the generator shipped in models/.
SEED := 42
TRAIN_ARGS ?=

.PHONY: build install train test test-kernels lint bench mutants clean-venv

build: $(TORCH_DEP)
	$(TORCH_ENV) cargo build --release

# Puts gan1d in ~/.cargo/bin; it finds libtorch through the rpath the build records.
install: $(TORCH_DEP)
	$(TORCH_ENV) cargo install --locked --path .

train: build
	./target/release/gan1d train --seed $(SEED) --out models --overwrite $(TRAIN_ARGS)

# With the project's Python environment, the tests also check gan1d against an autograd
# replica of the algorithm (bench/replica_check.sh) and load each export format in Python
# (bench/export_check.sh); a user's own LIBTORCH has no Python.
test: $(TORCH_DEP) $(TEST_DEP)
	python3 bench/mutants.py --check
	$(TORCH_ENV) cargo build --release
ifdef LIBTORCH
	@echo "gan1d: replica and export checks skipped (they need Python with torch: PYTHON=... bench/replica_check.sh, bench/export_check.sh)"
else
	$(TORCH_ENV) ./bench/replica_check.sh
	$(TORCH_ENV) ./bench/export_check.sh
endif
	$(TORCH_ENV) cargo test --release

# The tests whose numbers depend on libtorch's CPU kernels (engine equivalence, learning, the
# replica check), again under each kernel set in KERNELS, as another CPU would pick them. Then
# the shipped run, rebuilt under each instruction set of MKL's in MKL_SETS that this CPU has:
# MKL picks its kernels by CPU whatever ATEN_CPU_CAPABILITY says, and nothing a CPU run writes
# may depend on them.
KERNELS ?= default avx2
MKL_SETS ?= SSE4_2 AVX $(if $(shell grep -m1 -ow avx2 /proc/cpuinfo),AVX2) $(if $(shell grep -m1 -ow avx512f /proc/cpuinfo),AVX512)
test-kernels: $(TORCH_DEP)
	$(TORCH_ENV) cargo build --release
	@for k in $(KERNELS); do \
	  echo "gan1d: kernel-sensitive tests under ATEN_CPU_CAPABILITY=$$k"; \
	  ATEN_CPU_CAPABILITY=$$k $(TORCH_ENV) cargo test --release --lib --test engines --test learning --test checkpoint --test experiments --test ensembles --test cli || exit 1; \
	  if [ -z "$(LIBTORCH)" ]; then ATEN_CPU_CAPABILITY=$$k $(TORCH_ENV) ./bench/replica_check.sh || exit 1; fi; \
	done
	@for m in $(MKL_SETS); do \
	  echo "gan1d: the shipped run rebuilt under MKL_ENABLE_INSTRUCTIONS=$$m"; \
	  MKL_ENABLE_INSTRUCTIONS=$$m $(TORCH_ENV) cargo test --release --test cli the_shipped_run_is_rebuilt_byte_for_byte || exit 1; \
	done

lint: $(TORCH_DEP)
	cargo fmt --all -- --check
	$(TORCH_ENV) cargo clippy --release --all-targets -- -D warnings

# The layer products against the core's peak (benches/kernels.rs), wide networks side by side
# (bench/wide.sh), then the engines side by side (bench/engines.sh); BASELINE=older/gan1d and
# JAX_PYTHON=… add those.
bench: build
	$(TORCH_ENV) cargo bench --bench kernels | tee target/kernels-bench.txt
	$(TORCH_ENV) PEAK=$$(grep -o 'measured): [0-9.]*' target/kernels-bench.txt | grep -o '[0-9.]*$$') ./bench/wide.sh
	$(TORCH_ENV) PYTHON=$(if $(LIBTORCH),,$(VENV)/bin/python) ./bench/engines.sh

# Applies one-detail changes to the algorithm and shows that the tests catch each (slow).
mutants: $(TORCH_DEP)
	$(TORCH_ENV) PYTHON=$(if $(LIBTORCH),python3,$(VENV)/bin/python) python3 bench/mutants.py

$(STAMP):
	@echo "gan1d: installing torch==$(TORCH_VERSION) from PyPI into $(VENV) (about 4.7 GB, once): it provides the libtorch that tch builds against; set LIBTORCH to use your own instead"
	@$(PYTHON) -m venv "$(VENV)"
	@"$(VENV)/bin/pip" install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	@touch "$@"

$(EXPORT_STAMP): $(STAMP)
	@echo "gan1d: installing $(EXPORT_CHECK_PACKAGES) into $(VENV) (about 150 MB, once), for the export check"
	@"$(VENV)/bin/pip" install --quiet --disable-pip-version-check $(EXPORT_CHECK_PACKAGES)
	@touch "$@"

clean-venv:
	rm -rf "$(VENV)"
