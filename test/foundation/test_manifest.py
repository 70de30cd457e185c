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
"""package.xml and CMakeLists.txt declare what the code needs; colcon sees the package."""

from __future__ import annotations

import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import zipfile

import _checks
import pytest

ROOT = _checks.ROOT
REQUIRE_TOOLS = os.environ.get('ST_F2M_REQUIRE_ROS_TOOLS') == '1'


def test_package_xml_declares_every_import() -> None:
    assert _checks.package_xml_problems(ROOT) == []


def test_package_xml_check_catches_a_missing_dependency(tmp_path: Path) -> None:
    pkg = _checks.copy_package(ROOT, tmp_path / 'pkg')
    xml = pkg / 'package.xml'
    xml.write_text(xml.read_text().replace('<exec_depend>python3-opencv</exec_depend>', ''))
    problems = _checks.package_xml_problems(pkg)
    assert any('imports cv2: add <exec_depend>python3-opencv' in p for p in problems), problems


def test_package_xml_check_catches_an_undeclared_import(tmp_path: Path) -> None:
    pkg = _checks.copy_package(ROOT, tmp_path / 'pkg')
    (pkg / 'st_f2m_ros' / 'extra.py').write_text('import scipy\n')
    problems = _checks.package_xml_problems(pkg)
    assert any('imports scipy, which no manifest declares' in p for p in problems), problems


def test_package_xml_check_catches_an_unguarded_optional_import(tmp_path: Path) -> None:
    pkg = _checks.copy_package(ROOT, tmp_path / 'pkg')
    (pkg / 'st_f2m_ros' / 'extra.py').write_text('import hri_msgs\n')
    guarded = pkg / 'st_f2m_ros' / 'guarded.py'
    guarded.write_text('try:\n    import tensorrt\nexcept ImportError:\n    tensorrt = None\n')
    problems = _checks.package_xml_problems(pkg)
    assert any('optional hri_msgs without a guard' in p for p in problems), problems
    assert not any('tensorrt' in p for p in problems), problems


def test_cmakelists_generates_interfaces_and_installs_executables() -> None:
    assert _checks.cmake_problems(ROOT) == []


@pytest.mark.parametrize(
    ('old', 'new', 'expected'),
    [
        ('  "srv/ResetAdaptation.srv"\n', '', 'srv/ResetAdaptation.srv is not generated'),
        ('  scripts/emotion_behavior_node\n', '', 'does not install'),
        ('DEPENDENCIES builtin_interfaces std_msgs sensor_msgs',
         'DEPENDENCIES builtin_interfaces std_msgs', 'lacks DEPENDENCIES sensor_msgs'),
        ('DESTINATION ${PYTHON_INSTALL_DIR}/${PROJECT_NAME}',
         'DESTINATION lib/python3.10/site-packages/${PROJECT_NAME}', 'site-packages'),
        ('install(DIRECTORY launch config', 'install(DIRECTORY launch',
         'config/ is not installed'),
    ],
)
def test_cmake_check_catches_mistakes(tmp_path: Path, old: str, new: str, expected: str) -> None:
    pkg = _checks.copy_package(ROOT, tmp_path / 'pkg')
    cmake = pkg / 'CMakeLists.txt'
    text = cmake.read_text()
    assert old in text
    cmake.write_text(text.replace(old, new))
    problems = _checks.cmake_problems(pkg)
    assert any(expected in p for p in problems), problems


def test_launch_files_run_installed_executables() -> None:
    exes = _checks.launch_executables(ROOT)
    assert {'perception_node', 'emotion_behavior_node'} <= exes


def test_node_scripts_point_at_real_entry_points() -> None:
    for script in sorted((ROOT / 'scripts').iterdir()):
        found = re.search(r'^from (\S+) import main\b', script.read_text(), re.M)
        assert found, f'{script.name} imports no main()'
        module = found.group(1)
        path = ROOT / (module.replace('.', '/') + '.py')
        assert path.is_file(), f'{script.name} imports {module}, which does not exist'
        assert '\ndef main(' in path.read_text(), f'{module} has no main()'


def _colcon() -> str:
    exe = shutil.which('colcon')
    if exe is None:
        if REQUIRE_TOOLS:
            pytest.fail('colcon is required here (ST_F2M_REQUIRE_ROS_TOOLS=1)')
        pytest.skip('colcon not installed (make ros-tools installs it)')
    return exe


def test_colcon_sees_one_ament_cmake_package() -> None:
    out = subprocess.run([_colcon(), 'list'], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:3] == ['st_f2m_ros', '.', '(ros.ament_cmake)'], out


def test_colcon_reads_the_dependencies() -> None:
    out = subprocess.run([_colcon(), 'info', 'st_f2m_ros'], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    for dep in ('rosidl_default_generators', 'rclpy', 'sensor_msgs', 'launch_ros'):
        assert dep in out


@pytest.mark.slow
def test_wheel_carries_interfaces_and_resources(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
         '-w', str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob('st_f2m_ros-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ('msg/EmotionSequence.msg', 'srv/Adapt.srv'):
        assert f'st_f2m_ros/resources/interfaces/{name}' in names
    assert 'st_f2m_ros/cli/main.py' in names
