# st_f2m_ros without ROS 2: the two commands a newcomer types are `make demo` and `make test`.
# Both set up everything they need (a virtual environment in .venv, and Debian's ROS 2 interface
# tools for the interface tests) on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
# Debian packages the interface/manifest tests use (rosidl parser, catkin_pkg, colcon, ament).
ROS_TOOLS_APT := python3-rosidl python3-catkin-pkg colcon python3-colcon-ros ament-cmake

.PHONY: help setup ros-tools lint test test-fast demo bench checkpoint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the package with its test tools

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned: the local CPU build, never a CUDA download
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[text,datasets,dev]'
	touch $@

ros-tools:  ## install Debian's ROS 2 interface tools when missing (needs root and apt)
	@if /usr/bin/python3 -c 'import rosidl_adapter, rosidl_parser, catkin_pkg' 2>/dev/null \
		&& command -v colcon >/dev/null; then \
		echo 'ros-tools: python3-rosidl, catkin_pkg and colcon present'; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ROS_TOOLS_APT); \
	else \
		echo 'ros-tools: not root or no apt-get; install $(ROS_TOOLS_APT) to run the rosidl tests'; \
	fi

lint: setup  ## ruff
	$(VENV)/bin/ruff check .

# OpenMP threads sleep instead of spinning: the suite shares two cores (runtime/inference/cpu.py).
export OMP_WAIT_POLICY ?= PASSIVE

test: setup ros-tools lint  ## set up and run the whole test suite
	$(PY) -m pytest

test-fast: setup  ## unit tests only (skip slow ones)
	$(PY) -m pytest -m 'not slow'

demo: setup  ## build a demo bag, replay it, adapt to the subject, print and plot results
	$(VENV)/bin/st-f2m demo --out $(DEMO_OUT)

bench: setup  ## run the benchmarks and print the figures for the README
	$(PY) benchmarks/run_all.py

clean:  ## remove build outputs (keeps .venv)
	rm -rf build install log .pytest_cache .ruff_cache $(DEMO_OUT)
