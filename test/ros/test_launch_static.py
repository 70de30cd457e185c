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
"""Launch files and node shells checked statically (AST), and by import where `launch` exists.

ROS 2 is not installed everywhere, so what can be checked without it is checked here: every
executable a launch file starts is installed by CMakeLists.txt, every argument the README
promises is declared, every remapped name is one the node uses, every parameter in
config/*.yaml is declared by its node, and the node files at least compile.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
import re

import pytest

from st_f2m_ros.ros import params as P
from st_f2m_ros.runtime.behavior import RULE_FIELDS, SCALAR_FIELDS, load_ros_params

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / 'launch'
NODES = ROOT / 'st_f2m_ros' / 'ros'
LAUNCH_FILES = sorted(LAUNCH.glob('*.launch.py'))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding='utf-8'), filename=str(path))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            fname = f.id if isinstance(f, ast.Name) else getattr(f, 'attr', '')
            if fname == name:
                out.append(node)
    return out


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _installed_programs() -> set[str]:
    text = (ROOT / 'CMakeLists.txt').read_text(encoding='utf-8')
    block = re.search(r'install\(PROGRAMS(.*?)DESTINATION', text, re.S)
    assert block, 'CMakeLists.txt installs no PROGRAMS'
    return {Path(p).name for p in block.group(1).split()}


def test_launch_files_exist() -> None:
    assert {p.name for p in LAUNCH_FILES} >= {'robot.launch.py', 'replay.launch.py'}


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_executables_are_installed(path: Path) -> None:
    tree = _tree(path)
    nodes = _calls(tree, 'Node')
    assert nodes, f'{path.name} starts no Node'
    programs = _installed_programs()
    for call in nodes:
        exe = ast.literal_eval(_kw(call, 'executable'))
        assert exe in programs, f'{path.name} starts {exe!r}, not installed by CMakeLists.txt'
        assert (ROOT / 'scripts' / exe).is_file()


def _argument_names(path: Path) -> list[str]:
    tree = _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == 'ARGUMENTS' for t in node.targets
        ):
            return [ast.literal_eval(e.elts[0]) for e in node.value.elts]
    return []


def test_robot_launch_arguments() -> None:
    names = _argument_names(LAUNCH / 'robot.launch.py')
    assert set(names) >= {
        'camera_topic',
        'transcript_topic',
        'config_file',
        'subject_id',
        'backend',
        'device',
        'start_behavior',
        'log_level',
    }


def test_replay_launch_plays_and_records() -> None:
    text = (LAUNCH / 'replay.launch.py').read_text(encoding='utf-8')
    cmds = [
        ast.unparse(_kw(c, 'cmd'))
        for c in _calls(_tree(LAUNCH / 'replay.launch.py'), 'ExecuteProcess')
    ]
    assert any("'bag', 'play'" in c and '--clock' in c for c in cmds)
    assert any("'bag', 'record'" in c for c in cmds)
    assert "'bag'" in text and 'OnProcessExit' in text
    assert '/emotion/sequence' in text


def _subscribed_and_published(tree: ast.AST) -> set[str]:
    names = set()
    for fn in ('create_subscription', 'create_publisher', 'create_service'):
        for call in _calls(tree, fn):
            for arg in call.args[1:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
    return names


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_remapped_names_are_used_by_the_nodes(path: Path) -> None:
    used = _subscribed_and_published(_tree(NODES / 'perception_node.py'))
    for call in _calls(_tree(path), 'Node'):
        remaps = _kw(call, 'remappings')
        if remaps is None:
            continue
        for pair in remaps.elts:
            src = ast.literal_eval(pair.elts[0])
            assert src in used, f'{path.name} remaps {src!r}, which the node does not use'


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_parameter_overrides_are_declared(path: Path) -> None:
    for call in _calls(_tree(path), 'Node'):
        if ast.literal_eval(_kw(call, 'executable')) != 'perception_node':
            continue
        for item in _kw(call, 'parameters').elts:
            if isinstance(item, ast.Dict):
                for key in item.keys:
                    name = ast.literal_eval(key)
                    assert name in P.SPECS or name == 'use_sim_time', name


def test_perception_node_declares_every_yaml_parameter() -> None:
    tree = _tree(NODES / 'perception_node.py')
    loops = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.For)
        and ast.unparse(n.iter) == 'P.PERCEPTION_PARAMS'
        and 'declare_parameter' in ast.unparse(n)
    ]
    assert loops, 'perception_node must declare every spec of P.PERCEPTION_PARAMS'
    assert set(load_ros_params(ROOT / 'config' / 'perception.yaml')) == set(P.SPECS)


def test_behavior_node_declares_every_yaml_parameter() -> None:
    src = ast.unparse(_tree(NODES / 'emotion_behavior_node.py'))
    declared = set(SCALAR_FIELDS) if 'for name in SCALAR_FIELDS' in src else set()
    declared |= {s for s in ('alert_emotions', 'rule_names') if f"declare_parameter('{s}'" in src}
    assert 'for field in RULE_FIELDS' in src and "f'rules.{n}.{field}'" in src
    values = load_ros_params(ROOT / 'config' / 'behavior.yaml')
    for key in values:
        if key.startswith('rules.'):
            _, rule, field = key.split('.')
            assert rule in values['rule_names'] and field in RULE_FIELDS, key
        else:
            assert key in declared, f'{key} in behavior.yaml is not declared by the node'


@pytest.mark.parametrize('path', sorted(NODES.glob('*.py')), ids=lambda p: p.name)
def test_node_files_compile_and_stay_short(path: Path) -> None:
    compile(path.read_text(encoding='utf-8'), str(path), 'exec')
    assert len(path.read_text(encoding='utf-8').splitlines()) <= 400


def test_node_main_follows_the_ros2_pattern() -> None:
    """Both mains run through ros/process.run_node (its behaviour under real signals is
    tested in test/ros_live/test_node_shutdown.py)."""
    for name in ('perception_node.py', 'emotion_behavior_node.py'):
        src = (NODES / name).read_text(encoding='utf-8')
        assert 'return run_node(' in src
        assert 'add_on_set_parameters_callback' in src
    src = (NODES / 'process.py').read_text(encoding='utf-8')
    assert src.index('STOP.install()') < src.index('rclpy.init(')
    assert 'rclpy.try_shutdown' in src and 'destroy_node' in src and 'executor.shutdown' in src


@pytest.mark.skipif(
    importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') is None,
    reason='launch / launch_ros not installed (ROS 2 absent)',
)
@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_builds_a_description(path: Path) -> None:
    spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    desc = module.generate_launch_description()
    assert desc.entities
