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
"""`st-f2m preview`: PNG contact sheet and script timeline of the synthetic data."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the preview parser."""
    p = subparsers.add_parser(
        'preview',
        help='PNG contact sheet (19 classes x corruption levels) and timeline of a script',
        description=(
            'Write OUT/contact_<subject>.png (one subject: a row per fine-grained class, a '
            'column per corruption level: clean, fog/mask/occlusion at 10/30/50%%, lens '
            'distortion) and OUT/timeline_<subject>.png (a generated script: classes, measured '
            'components, transcript, frames).'
        ),
    )
    p.add_argument('--out', required=True, help='output folder (created)')
    p.add_argument('--subject', default='s000', help='subject id (default s000)')
    p.add_argument('--seed', type=int, default=0, help='seed (default 0)')
    p.add_argument(
        '--duration', type=float, default=20.0, help='timeline length in seconds (default 20)'
    )
    p.add_argument('--tile', type=int, default=96, help='contact-sheet tile size (default 96)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render both pictures."""
    from pathlib import Path

    from st_f2m_ros.data.preview import contact_sheet, save_png, save_timeline
    from st_f2m_ros.data.synthetic import SyntheticConfig, SyntheticSession, make_subject
    from st_f2m_ros.errors import ConfigError

    if args.tile < 32 or args.duration <= 0:
        raise ConfigError('--tile must be >= 32 and --duration > 0')
    out = Path(args.out)
    person = make_subject(args.subject, args.seed)
    sheet = save_png(
        out / f'contact_{args.subject}.png', contact_sheet(person, args.seed, args.tile)
    )
    session = SyntheticSession(person, SyntheticConfig(duration=args.duration), args.seed)
    timeline = save_timeline(session, out / f'timeline_{args.subject}.png')
    print(f'wrote {sheet} and {timeline}')
    return 0
