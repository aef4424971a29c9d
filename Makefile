# One-command set-up: `make monitor` launches the monitor, `make test` runs the whole suite.
# Each creates .venv if missing and installs torch==2.13.0 first (the CPU build on this machine's disk;
# a looser spec would pull a multi-GB CUDA build), then the project with its extras.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup monitor headless test lint sysdeps triton-env

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,lsl,triton]'
	touch $(STAMP)

setup: $(STAMP)

# The Triton server's own environment (training/triton_server.py): the nvidia-pytriton wheel carries a real
# tritonserver (CPU, Python backend) but pins numpy<2, and its Python-backend stub must run under the
# interpreter whose libpython it links, the system's python3.11 (a pyenv build fails in the stub).
TRITON_VENV ?= .triton-venv
TRITON_STAMP := $(TRITON_VENV)/.installed-stamp
TRITON_PY ?= /usr/bin/python3.11

$(TRITON_STAMP):
	@if [ ! -x $(TRITON_PY) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv \
	   libpython3.11 >/dev/null) || echo "warning: could not install python3.11"; fi
	test -x $(TRITON_VENV)/bin/python || $(TRITON_PY) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install -q --upgrade pip
	$(TRITON_VENV)/bin/python -m pip install -q 'nvidia-pytriton==0.7.0' 'onnxruntime>=1.17' 'numpy<2'
	touch $(TRITON_STAMP)

triton-env: $(TRITON_STAMP)

# System libraries for a real X window (Xvfb) and Qt's xcb plugin; only attempted as root, never fatal.
sysdeps:
	@if ! command -v Xvfb >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth libxcb-icccm4 \
	   libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 \
	   libxcb-randr0 libxcb-xinerama0 libxcb-cursor0 >/dev/null) || echo "warning: could not install Xvfb"; \
	fi

# Launch the monitor on the shipped default model and demo record. Without a display, run under Xvfb.
monitor: setup sysdeps
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then $(VENV)/bin/dacl-monitor $(ARGS); \
	else xvfb-run -a -s "-screen 0 1600x1000x24" $(VENV)/bin/dacl-monitor $(ARGS); fi

test: setup sysdeps triton-env
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
