# Two commands matter (see README.md):  `make demo` and `make test`.
# Every target depends on `setup`, which is a no-op once .venv is built with the same torch.

PYTHON ?= $(shell scripts/find_python.sh 3.11)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# MKL's vendor fix (common/mkl.py): MKL's pinned branch on AMD CPUs too, built from a few lines of C
MKL_FIX := $(VENV)/lib/libaction_rnn_mkl_intel_branch.so
# torch, pinned to the version the tests ran on. PyPI's Linux x86_64 wheel of it is the CUDA build
# (it runs on a CPU too); pip's own settings may pick another (this project's machines: a +cpu
# wheel from a local folder). TORCH_INDEX=URL takes torch from that index alone, ignoring the
# machine's pip settings. .venv records both (.venv/.torch): later runs keep them, and
# `make setup TORCH=... TORCH_INDEX=...` on an existing .venv reinstalls torch when they change.
TORCH_DEFAULT := torch==2.13.0
TORCH_RECORD  := $(VENV)/.torch
ifeq ($(origin TORCH),undefined)
TORCH := $(or $(shell sed -n 1p $(TORCH_RECORD) 2>/dev/null),$(TORCH_DEFAULT))
endif
ifeq ($(origin TORCH_INDEX),undefined)
TORCH_INDEX := $(shell sed -n 2p $(TORCH_RECORD) 2>/dev/null)
endif
TORCH_PIP = $(if $(TORCH_INDEX),PIP_CONFIG_FILE=/dev/null $(PY) -m pip install --isolated \
  --index-url $(TORCH_INDEX),$(PY) -m pip install)

# The paper's stack (Theano 1.0.5 + Lasagne 0.1) in its own Python 3.7 venv, as an oracle.
ORACLE_PYTHON ?= $(shell scripts/find_python.sh 3.7)
ORACLE := .venv-oracle
# Real BVLC Caffe (pycaffe, CPU), built from Debian's pinned source package and cached.
# `make test SKIP_CAFFE=1` where it truly cannot be built: the pycaffe parity tests then skip,
# loudly. Otherwise a failed build fails the target.
CAFFE_CACHE ?= .cache/caffe
CAFFE_STAMP := $(VENV)/.caffe
ifeq ($(SKIP_CAFFE),1)
CAFFE_IF_WANTED :=
TEST_ENV :=
else
CAFFE_IF_WANTED := caffe
TEST_ENV := REQUIRE_CAFFE=1
endif
# Other CPUs, emulated (Debian's qemu-user, installed by `make test`):
# tests/common/test_emulated_cpus.py.
# `make test SKIP_EMULATION=1` where apt cannot install it: those tests then skip, loudly.
ifeq ($(SKIP_EMULATION),1)
EMULATOR_IF_WANTED :=
else
EMULATOR_IF_WANTED := emulator
TEST_ENV += REQUIRE_EMULATOR=1
endif

# Where Python 3.7 exists (it does on our machines), `make parity`/`make test` build the oracle
# and regenerate its fixtures; elsewhere the committed fixtures are used alone.
ORACLE_IF_AVAILABLE := $(if $(ORACLE_PYTHON),oracle)

# The real data set and its codes (`make data extract`).
DATA     ?= data
# A configuration that extracts otherwise than paper (configurations: its extraction()) has its
# own codes: modern anti-aliases, so its store is features-modern, never paper's replaced.
FEATURES ?= features$(if $(filter modern,$(CONFIG)),-modern)
BACKEND  ?= caffe
WORKERS  ?=
LAYER    ?= fc7
# The stream: rgb (the paper's: the sampled frames) or flow (their optical flow, the motion
# stream of the paper's future work: caffe_extract/flow.py), for `make extract` and `make train`.
STREAM   ?= rgb
# Where the PyTorch code runs: auto (CUDA when available), cpu or cuda.
DEVICE   ?= auto
# CPU threads for training (`make train`, `make bench`): empty = every core this job may use.
THREADS  ?=
# Extraction on the CPU: processes at once, each with one network thread and its own shard of
# the videos, merged at the end (`extract --jobs`; the same store): one per core.
JOBS     ?= $(shell nproc 2>/dev/null || echo 1)
EXTRACT_JOBS = $(if $(filter caffe,$(BACKEND)),$(JOBS),$(if $(filter cpu,$(DEVICE)),$(JOBS),1))
# Training (`make train`): runs at once when JOBS is given (`make train JOBS=4`), and on a GPU
# (DEVICE=cuda, or auto where torch sees one) GPU_TRAIN_JOBS at once, sharing it: one run
# leaves it mostly idle (4 runs at once did 3.5x one's work on an H200, 8 did 4.9x: docs/hardware.md,
# "Measured on one NVIDIA H200"). Each process holds its own copy of the codes (2.2 GB for UCF-101); the same
# table either way.
GPU_TRAIN_JOBS ?= 4
TRAIN_ON_GPU = $(or $(filter cuda%,$(DEVICE)),$(if $(filter auto,$(DEVICE)),$(shell \
  $(PY) -c "import torch; print('cuda' if torch.cuda.is_available() else '')" 2>/dev/null)))
TRAIN_JOBS = $(if $(filter command line,$(origin JOBS)),$(JOBS),$(if $(TRAIN_ON_GPU),$(GPU_TRAIN_JOBS),1))

# The named configuration (configurations/__init__.py): paper (the default), nntools-2015,
# lasagne-0.1 or modern.
CONFIG  ?= paper
# Training on the real codes (`make train`, `make train MODELS="rnn birnn" SPLITS="1 2 3"`).
MODELS  ?= average rnn lstm birnn
SPLITS  ?= 1
RESULTS ?= results/ucf101-$(CONFIG)$(if $(filter flow,$(STREAM)),-flow)
# The embedded default: a synthetic UCF-101, random-weight CaffeNet, the four paper models.
DEMO    ?= demo

# The same bits on every x86-64 machine: CPU kernels pinned to AVX2, one thread. The project
# sets these itself before numpy/torch/Caffe load (common/reproducible.py); exported
# here too, as a second line of defence for every command a target runs. Training then takes
# every core (its bits do not depend on the thread count; THREADS=N to limit it).
# FAST=1: speed over bits. No kernel pinned (AVX-512 where the CPU has it, MKL's non-strict
# branch); the same layout (one single-threaded extraction process per core, training on every
# core); results may differ between machines in the last digits and say so. docs/performance.md.
# The variables and their values are written once, in common/pinned.py (read here with any
# python3: it imports nothing, so it works before .venv exists).
FAST ?=
PINNED_PY := $(or $(PYTHON),python3) common/pinned.py
PINNED_THREADS := $(shell $(PINNED_PY) threads)
PINNED_KERNELS := $(shell $(PINNED_PY) kernels)
PINNED_NAMES := $(shell $(PINNED_PY) names)
ifeq ($(PINNED_NAMES),)
$(error cannot read the pinned variables: `$(PINNED_PY) names` printed nothing (no python3?))
endif
$(foreach pin,$(PINNED_THREADS),$(eval export $(subst =, := ,$(pin))))
ifeq ($(FAST),1)
export ACTION_RNN_FAST := 1
unexport $(PINNED_NAMES)
else
ifneq ($(FAST),)
$(error FAST=$(FAST): use FAST=1 (unpinned kernels) or leave it unset)
endif
unexport ACTION_RNN_FAST
$(foreach pin,$(PINNED_KERNELS),$(eval export $(subst =, := ,$(pin))))
endif
# The demo's folders: results/demo-paper, results/demo-paper-fast (FAST=1), ...
DEMO_RUN = $(CONFIG)$(if $(FAST),-fast)

.PHONY: FORCE emulator setup caffe weights data extract train demo future future-ucf101 drift power oracle test faults test-slurm parity bench gpu-check rehearsal clean help

help:
	@echo "make demo     the whole pipeline on a synthetic UCF-101 (about 4 minutes): results/demo-$(CONFIG)/;"
	@echo "              it checks each stage's SHA-256 against results/demo-bits/ and the README's table"
	@echo "              (CONFIG=paper, the default: the paper's text, nntools 2015 where it is silent;"
	@echo "               CONFIG=nntools-2015 | lasagne-0.1 | modern: python -m configurations)"
	@echo "make setup    create .venv ($(PYTHON)) and install $(TORCH) and the project"
	@echo "              (TORCH=torch==X TORCH_INDEX=URL: another torch; kept by .venv, see docs/setup.md)"
	@echo "make caffe    build real BVLC Caffe (pycaffe, CPU) into the venv (cached)"
	@echo "make weights  download BVLC CaffeNet's weights to models/ and verify their SHA1"
	@echo "make data     download, verify and unpack UCF-101 into $(DATA)/"
	@echo "make extract  every UCF-101 video of splits 1-3, once -> CaffeNet $(LAYER) codes in"
	@echo "              $(FEATURES)/all_splits_$(LAYER).h5 (BACKEND=caffe|torch, CONFIG=...)"
	@echo "make train    train and evaluate MODELS on SPLITS (\"1 2 3\": each and the mean): $(RESULTS)/"
	@echo "              (JOBS=N: N runs at once, each in its own process; the same table; on a GPU: 4)"
	@echo "make future  the paper's future work beside its models on the demo set (after make demo):"
	@echo "              motion stream, fusion, 10-crop views, fine-tuned fc6/fc7, LSTM autoencoder"
	@echo "              pretraining, temporal convolution: results/demo-future/ (future-ucf101: UCF-101)"
	@echo "make drift    measure each 2015-vs-today difference on the demo set: results/drift/"
	@echo "make power    smallest difference the group test detects on UCF-101 split 1: results/power.md"
	@echo "make parity   torch vs NumPy reference vs finite differences vs Lasagne 0.1; CaffeNet port vs pycaffe"
	@echo "make bench    speed benchmarks: pycaffe vs the port, pipeline, training vs its GEMM bound,"
	@echo "              pinned kernels and FAST=1's side by side;"
	@echo "              DEVICE=cuda on a GPU"
	@echo "make gpu-check  on a GPU: the CUDA tests, CUDA graphs vs eager bit for bit, the device bench"
	@echo "make rehearsal  \`make train\` at UCF-101's scale on synthetic codes (13,320 videos, 101"
	@echo "              classes, 2.2 GB): memory, load time, s/epoch, projected run, plots: rehearsal/"
	@echo "make test     the test suite: tests/ and parity_tests/ (not the fault campaign or Slurm: below)"
	@echo "make faults   kill -9 at 20 random moments of extraction and training; reruns must match"
	@echo "make test-slurm  a real one-node Slurm (installed with apt): job arrays equal one process"
	@echo "make oracle   create .venv-oracle (Python 3.7, Theano 1.0.5, Lasagne 0.1)"
	@echo "make clean    remove .venv and .venv-oracle"
	@echo "variables: CONFIG=paper|nntools-2015|lasagne-0.1|modern SPLITS=\"1 2 3\" DEVICE=auto|cpu|cuda BACKEND=caffe|torch"
	@echo "           STREAM=rgb|flow MODELS LAYER=fc7|fc6 WORKERS JOBS THREADS DATA FEATURES RESULTS DEMO SKIP_CAFFE=1"
	@echo "           TORCH TORCH_INDEX PYTHON ORACLE_PYTHON CAFFE_CACHE SKIP_EMULATION=1 (docs/setup.md)"
	@echo "           FAST=1: kernels not pinned (AVX-512 where present): faster, not the same bits"

setup: $(STAMP) $(MKL_FIX)

# Compiled here, not by a Python command: the project's import warns on AMD while it is missing.
$(MKL_FIX): common/mkl_intel_branch.c $(STAMP)
	@command -v $(CC) >/dev/null 2>&1 || scripts/apt_install.sh gcc
	$(CC) -O2 -shared -fPIC -o $@.partial common/mkl_intel_branch.c && mv $@.partial $@
	@echo "==> MKL vendor fix: $@"

$(STAMP): pyproject.toml constraints.txt $(TORCH_RECORD)
	@test -x $(PY) || test -n "$(PYTHON)" || { \
	  echo "error: Python 3.11 not found. Install it (or run: make setup PYTHON=/path/to/python3.11)"; \
	  exit 1; }
	@# (a venv without pip: one Debian half-made before python3.X-venv was there; made again)
	@$(PY) -m pip --version >/dev/null 2>&1 || { echo "==> creating $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV) || { scripts/apt_install.sh python$$($(PYTHON) \
	    -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv && $(PYTHON) -m venv $(VENV); }; }
	@echo "==> installing $(TORCH)$(if $(TORCH_INDEX), from $(TORCH_INDEX)) and the project"
	$(TORCH_PIP) --quiet "$(TORCH)"
	$(if $(and $(filter $(TORCH_RECORD),$?),$(wildcard $(STAMP))),$(TORCH_PIP) --quiet --force-reinstall --no-deps "$(TORCH)")
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $@

# The torch that .venv has: rewritten only when TORCH or TORCH_INDEX change, so that the stamp
# above reinstalls torch then. A .venv made before this record existed had the default.
$(TORCH_RECORD): FORCE
	@mkdir -p $(VENV)
	@if [ ! -f $@ ] && [ -f $(STAMP) ]; then echo "$(TORCH_DEFAULT)" > $@; echo >> $@; touch -r $(STAMP) $@; fi
	@printf '%s\n%s\n' "$(TORCH)" "$(TORCH_INDEX)" | cmp -s - $@ || printf '%s\n%s\n' "$(TORCH)" "$(TORCH_INDEX)" > $@

caffe: $(CAFFE_STAMP)

$(CAFFE_STAMP): $(STAMP) scripts/build_caffe.sh
	scripts/build_caffe.sh "$(abspath $(PY))" "$(CAFFE_CACHE)"
	@touch $@

weights: setup
	$(PY) -m caffe_extract.weights

data: setup
	$(PY) -m caffe_extract.data --root $(DATA)

# Real Caffe is built only for BACKEND=caffe: the PyTorch port reads the .caffemodel itself.
extract: setup $(if $(filter caffe,$(BACKEND)),caffe) data
	$(PY) -m caffe_extract extract --videos $(DATA)/UCF-101 --splits $(DATA)/ucfTrainTestlist \
	  --out-dir $(FEATURES) --layer $(LAYER) --stream $(STREAM) --backend $(BACKEND) --config $(CONFIG) \
	  $(if $(WORKERS),--workers $(WORKERS)) $(if $(filter torch,$(BACKEND)),--device $(DEVICE)) \
	  --jobs $(EXTRACT_JOBS)

train: setup
	$(PY) -m experiment.train --features $(FEATURES) --layer $(LAYER) --stream $(STREAM) --models $(MODELS) \
	  --splits $(SPLITS) --config $(CONFIG) --device $(DEVICE) --out $(RESULTS) \
	  $(if $(THREADS),--threads $(THREADS)) --jobs $(TRAIN_JOBS)

# Every step resumes: rerunning `make demo` after an interruption continues where it stopped.
demo: setup caffe
	$(PY) -m caffe_extract.synthetic --root $(DEMO)/data --groups 25 --clips 2
	$(PY) -m caffe_extract extract --videos $(DEMO)/data/videos --splits $(DEMO)/data/splits \
	  --out-dir $(DEMO)/features-$(DEMO_RUN) --random-weights 0 --backend caffe --workers 1 \
	  --config $(CONFIG) --jobs $(JOBS)
	$(PY) -m experiment.train --features $(DEMO)/features-$(DEMO_RUN) --out results/demo-$(DEMO_RUN) \
	  --hidden 128 --lr 0.003 --epochs 100 --patience 0 --seeds 3 --splits $(SPLITS) \
	  --config $(CONFIG)
	$(PY) -m experiment.tools.demo_bits check --data $(DEMO)/data --store $(DEMO)/features-$(DEMO_RUN) \
	  --results results/demo-$(DEMO_RUN) --config $(CONFIG)
	$(if $(filter paper,$(CONFIG)),$(if $(FAST),,$(PY) -m experiment.tools.readme_check README.md results/demo-paper/table.json))

# The paper's future work beside its four models (experiment/future/study.py): the demo's steps, then
# the flow, pool5 and 10-crop stores of the same videos, then every part, JOBS at once:
# results/demo-future/. The ten crops (ten forwards per frame) go through the PyTorch port of
# CaffeNet, 1.23x pycaffe's speed here (docs/future.md); the other stores through pycaffe.
FUTURE_EXTRACT = $(PY) -m caffe_extract extract --videos $(DEMO)/data/videos \
  --splits $(DEMO)/data/splits --out-dir $(DEMO)/features-$(DEMO_RUN) --random-weights 0 \
  --workers 1 --config $(CONFIG) --jobs $(JOBS)
FUTURE_STORES = $(DEMO)/features-$(DEMO_RUN)
# A rerun keeps each finished store (the extractor checks how it was made) and resumes each run.
future: demo
	$(FUTURE_EXTRACT) --stream flow --backend caffe
	$(FUTURE_EXTRACT) --layer pool5 --backend caffe
	$(FUTURE_EXTRACT) --views oversample --backend torch --device cpu
	$(PY) -m experiment.future --features $(FUTURE_STORES) \
	  --main results/demo-$(DEMO_RUN) --out results/demo-future$(if $(filter-out paper,$(DEMO_RUN)),-$(DEMO_RUN)) \
	  --config $(CONFIG) --random-weights 0 --jobs $(JOBS)

# The same on real UCF-101, after `make extract train` (the main table's settings).
UCF_EXTRACT = $(PY) -m caffe_extract extract --videos $(DATA)/UCF-101 --splits $(DATA)/ucfTrainTestlist \
  --out-dir $(FEATURES) --backend $(BACKEND) --config $(CONFIG) --jobs $(EXTRACT_JOBS) \
  $(if $(filter torch,$(BACKEND)),--device $(DEVICE))
future-ucf101: setup $(if $(filter caffe,$(BACKEND)),caffe) data
	$(UCF_EXTRACT) --stream flow
	$(UCF_EXTRACT) --layer pool5
	$(UCF_EXTRACT) --views oversample --store-dtype float16
	$(PY) -m experiment.future --features $(FEATURES) --main results/ucf101-$(CONFIG) \
	  --out results/ucf101-future --config $(CONFIG) --hidden 512 --lr 0.003 0.001 --epochs 80 \
	  --patience 25 --device $(DEVICE)

# The drift ledger: every 2015-vs-today difference, measured on the demo's synthetic set.
drift: setup caffe
	$(PY) -m caffe_extract.synthetic --root $(DEMO)/data --groups 25 --clips 2
	$(PY) -m experiment.studies.drift --videos $(DEMO)/data/videos --splits $(DEMO)/data/splits \
	  --work $(DEMO)/drift --out results/drift

# Power of the verdicts' test on UCF-101 split 1 (with the demo's ICC once `make demo` has run).
power: setup
	$(PY) -m experiment.analysis.power --out results/power.md \
	  $(if $(wildcard results/demo-$(CONFIG)/predictions.csv),--predictions results/demo-$(CONFIG)/predictions.csv)

# numpy 1.21.6 (the last for Python 3.7): its AVX-512 loops can be switched off
# (NPY_DISABLE_CPU_FEATURES), so the fixtures are the same bits on every CPU. The stamp names
# the packages: a venv made with others is updated.
ORACLE_PACKAGES := numpy==1.21.6 scipy==1.5.4 Theano==1.0.5 Lasagne==0.1
space := $(subst ,, )
ORACLE_STAMP := $(ORACLE)/.installed-$(subst ==,-,$(subst $(space),+,$(ORACLE_PACKAGES)))

oracle: $(ORACLE_STAMP)

$(ORACLE_STAMP):
	@test -n "$(ORACLE_PYTHON)" || { \
	  echo "error: Python 3.7 not found; the oracle needs it (Theano 1.0.5 and Lasagne 0.1 predate 3.8)."; \
	  echo "       Install it (pyenv install 3.7) or run: make oracle ORACLE_PYTHON=/path/to/python3.7"; \
	  exit 1; }
	@echo "==> creating $(ORACLE) with $(ORACLE_PYTHON): Theano 1.0.5, Lasagne 0.1"
	$(ORACLE_PYTHON) -m venv $(ORACLE)
	$(ORACLE)/bin/pip install --quiet --only-binary=numpy,scipy $(ORACLE_PACKAGES)
	@touch $@

emulator:
	@scripts/install_qemu.sh

test: setup $(CAFFE_IF_WANTED) $(ORACLE_IF_AVAILABLE) $(EMULATOR_IF_WANTED)
ifeq ($(SKIP_CAFFE),1)
	@echo "SKIP_CAFFE=1: tests that need real Caffe are skipped; the summary lists each one"
endif
	$(TEST_ENV) $(PY) -m pytest

# The fault campaign: kill -9 at 20 random moments of an extraction and of a training run,
# each rerun must end identical; figures in results/faults.json (CI runs it after `make test`).
faults: setup $(CAFFE_IF_WANTED)
	$(TEST_ENV) FAULTS_REPORT=results/faults.json $(PY) -m pytest fault_tests -s -q

# A real single-node Slurm on this machine (apt: slurmctld slurmd munge; root or sudo): the
# extraction and training job arrays with their dependent jobs, one task requeued mid-run.
test-slurm: setup
	$(PY) -m pytest slurm_tests -q

parity: setup $(CAFFE_IF_WANTED) $(ORACLE_IF_AVAILABLE)
	$(TEST_ENV) $(PY) -m pytest parity_tests

# Pinned and fast side by side, in the same run (--modes: each mode in a process of its own):
# the pipeline (bench/pipeline.md, bench/pipeline-fast.md) and the training epochs (bench/training.md).
bench: setup caffe $(ORACLE_IF_AVAILABLE)
	@mkdir -p bench
	$(PY) -m caffe_extract.bench --out bench/caffenet.md
	$(PY) -m caffe_extract.bench --pipeline --modes pinned fast --out bench/pipeline.md
	$(PY) -m experiment.tools.bench --device $(if $(filter auto,$(DEVICE)),cpu,$(DEVICE)) \
	  --out bench/training$(if $(filter cuda,$(DEVICE)),-cuda).md $(if $(THREADS),--threads $(THREADS)) \
	  $(if $(ORACLE_IF_AVAILABLE),--theano) $(if $(filter cuda,$(DEVICE)),,--modes pinned fast)
	$(PY) -m experiment.tools.device_bench --device $(if $(filter auto,$(DEVICE)),cpu,$(DEVICE)) \
	  --out bench/device-$(if $(filter auto,$(DEVICE)),cpu,$(DEVICE)).md

# On a GPU: the CUDA tests, CUDA graphs vs eager training bit for bit, the device bench, in one
# table (experiment/tools/gpu_check.py; bench/gpu-check.md). No `setup`: a GPU machine may reach
# no package index, so .venv's python where it exists, else python3 with the packages installed.
GPU_PY = $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	@mkdir -p bench
	$(GPU_PY) -m experiment.tools.gpu_check --out bench/gpu-check.md

# `make train` at UCF-101's size before a day on the real codes (synthetic codes; REHEARSAL_EPOCHS).
REHEARSAL ?= rehearsal
REHEARSAL_EPOCHS ?= 2
rehearsal: setup
	$(PY) -m experiment.studies.rehearsal --out $(REHEARSAL) --epochs $(REHEARSAL_EPOCHS) --device $(DEVICE)

clean:
	rm -rf $(VENV) $(ORACLE)
