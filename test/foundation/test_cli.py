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
"""The st-f2m console command: --help, --version, errors as one line."""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from st_f2m_ros import __version__
from st_f2m_ros.cli import main as cli


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(['--version'])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f'st-f2m {__version__}'


def test_help_lists_available_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(['--help'])
    out = capsys.readouterr().out
    assert 'ST-F2M' in out
    for name in cli.available_commands():
        assert name in out


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in cli.available_commands():
        with pytest.raises(SystemExit) as exc:
            cli.main([name, '--help'])
        assert exc.value.code == 0, name
        assert capsys.readouterr().out.startswith('usage: st-f2m'), name


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert 'usage: st-f2m' in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    exe = shutil.which('st-f2m') or str(Path(sys.executable).with_name('st-f2m'))
    out = subprocess.run([exe, '--version'], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f'st-f2m {__version__}'
