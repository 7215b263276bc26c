# dspnewton: every target installs what it needs first, so a fresh machine needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CONSTRAINTS := .ci/constraints.txt
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

FUZZ_RUNS ?= 200000
# DPF and a toolchain for the plugin; OpenGL/X11/D-Bus headers for its face; lilv for the LV2 test host;
# Xvfb, JACK, jalv and xwd to photograph the face in the tests.
APT_PACKAGES := dpf-source build-essential pkg-config liblilv-dev libgl-dev libx11-dev libxext-dev libxrandr-dev \
    libxcursor-dev libdbus-1-dev xvfb jackd2 jalv x11-apps xdotool
PLUGIN_OUT ?= build/plugins
# `make test` runs the tests in this many processes (pytest-xdist; each gets its share of the cores).
TEST_WORKERS ?= 2

.PHONY: install system-deps test demo bench fuzz clean cpp-fields plugin plugin-install face-shots

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

# Debian packages for the plugin and its host tests (DPF, lv2file, a C/C++ toolchain).
system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	  else echo "please install: $$missing (Debian packages)"; exit 1; fi; \
	fi

test: install system-deps
	$(PY) -m pytest -q -ra --durations=30 -n $(TEST_WORKERS) --dist worksteal

demo: install system-deps
	$(VENV)/bin/dspnewton demo -o $(DEMO_OUT)

bench: install
	$(PY) benchmarks/filters.py --json benchmarks/results/filters_cpu.json
	$(PY) benchmarks/compressor.py --json benchmarks/results/compressor_cpu.json
	$(PY) benchmarks/hessian.py --json benchmarks/results/hessian_cpu.json

# The plugin that loads any bundle: built once (mono and stereo; VST3, LV2, CLAP), installed for this user,
# and its face photographed into docs/ (headless: Xvfb, a dummy JACK server and jalv).
plugin: install system-deps
	$(VENV)/bin/dspnewton plugin build -o $(PLUGIN_OUT)

plugin-install: plugin
	$(VENV)/bin/dspnewton plugin install --from $(PLUGIN_OUT)

face-shots: plugin
	$(PY) tests/face_shot.py $(PLUGIN_OUT) docs

# Coverage-guided fuzzing of the C++ readers (libFuzzer) and of the Python bindings' round
# trips (atheris); new crashers land in tests/fuzz/corpus and become regression tests.
fuzz: install
	command -v clang++ >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang)
	mkdir -p build/fuzz/corpus tests/fuzz/corpus
	clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc/include tests/fuzz/fuzz_readers.cpp \
	    -o build/fuzz/fuzz_readers
	build/fuzz/fuzz_readers -runs=$(FUZZ_RUNS) -max_len=8192 -artifact_prefix=tests/fuzz/corpus/crash- \
	    build/fuzz/corpus tests/fuzz/corpus
	$(PIP) install -q atheris==3.0.0
	$(PY) tests/fuzz/fuzz_readers.py -runs=$(FUZZ_RUNS) -max_len=4096

# The C++ model tables (parameters, options, GRU size), generated from dspnewton/model/ (cpp_table.py).
cpp-fields: install
	$(PY) -c "from dspnewton.model.cpp_table import write_cpp_header; print('wrote', write_cpp_header())"

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_OUT) benchmarks/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
