# dspnewton: every target installs what it needs first, so a fresh machine needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := .ci/constraints.txt
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: install test demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS) csrc/CMakeLists.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(CONSTRAINTS) setuptools wheel pybind11 \
	    torch torchaudio numba numpy soundfile scipy tqdm matplotlib pytest torchcomp pedalboard
	# torchlpc compiles against the installed torch: no build isolation.
	$(PIP) install -q -c $(CONSTRAINTS) --no-build-isolation --no-cache-dir torchlpc
	$(PIP) install -q -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

test: install
	$(PY) -m pytest -q -ra

demo: install
	$(VENV)/bin/dspnewton demo -o $(DEMO_OUT)

bench: install
	$(PY) benchmarks/filters.py --json benchmarks/results/filters_cpu.json
	$(PY) benchmarks/compressor.py --json benchmarks/results/compressor_cpu.json
	$(PY) benchmarks/hessian.py --json benchmarks/results/hessian_cpu.json

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_OUT) benchmarks/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
