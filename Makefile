# One-command set-up: `make monitor` launches the monitor, `make test` runs the whole suite.
# Each creates .venv if missing and installs torch==2.13.0 first (the CPU build on this machine's disk;
# a looser spec would pull a multi-GB CUDA build), then the project with its extras.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup monitor headless test lint sysdeps

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,lsl]'
	touch $(STAMP)

setup: $(STAMP)

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

test: setup sysdeps
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
