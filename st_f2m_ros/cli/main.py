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
"""Entry point of `st-f2m`: one subcommand per module in `st_f2m_ros/cli/`.

Each subcommand module defines `register(subparsers)`, which adds its parser and sets
`func=run`. Modules import heavy dependencies (torch, OpenCV) inside `run` so that
`st-f2m --help` stays instant. Only this layer prints errors and picks exit codes: a
StF2MError becomes one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import importlib
import importlib.util
import sys

from st_f2m_ros import __version__
from st_f2m_ros.errors import StF2MError

# Subcommand modules, in the order `--help` lists them. A module that is not there yet is
# skipped, so that a feature lands together with its command.
SUBCOMMANDS: tuple[str, ...] = (
    'demo',
    'make_bag',
    'make_dataset',
    'preview',
    'train',
    'tune_fuzzy',
    'run',
    'adapt',
    'evaluate',
    'explain',
    'export',
    'bench',
    'session_bench',
    'experiment',
    'models',
)


def available_commands() -> list[str]:
    """Names of the subcommands whose modules are present, as typed on the command line."""
    return [
        name.replace('_', '-')
        for name in SUBCOMMANDS
        if importlib.util.find_spec(f'st_f2m_ros.cli.{name}') is not None
    ]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog='st-f2m',
        description=(
            'ST-F2M fine-grained emotion recognition for ROS 2 robots, without ROS 2: '
            'generate synthetic data and bags, train, adapt to a person, replay bags '
            'through the recognizer and evaluate.'
        ),
        epilog='Run "st-f2m COMMAND --help" for the options of a command.',
    )
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in SUBCOMMANDS:
        module_name = f'st_f2m_ros.cli.{name}'
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    # Before any subcommand imports torch: sleeping, not spinning, OpenMP threads (see
    # runtime/inference/cpu.py; spinning threads collapse throughput on a shared 2-core machine).
    from st_f2m_ros.runtime.inference.cpu import prefer_passive_threads

    prefer_passive_threads()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except StF2MError as err:
        print(f'st-f2m {args.command}: error: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'st-f2m {args.command}: interrupted', file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == '__main__':
    sys.exit(main())
