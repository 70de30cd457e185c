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
"""`st-f2m adapt`: what the /adapt service does, from the command line.

Adapts the model to one person from labelled support clip files (rosbag2 / MCAP with an
/emotion/ground_truth topic or a sidecar .labels.yaml, or videos with a sidecar or --labels),
prints the support accuracy before and after, and persists the adaptation in the same store
the node reloads at start.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_STORE = '~/.ros/st_f2m_ros/adaptations'


def register(subparsers: Any) -> None:
    """Add the `adapt` subcommand."""
    p = subparsers.add_parser(
        'adapt',
        help='adapt the recognizer to one person from a few labelled clips',
        description=(
            "Run the meta-learning inner loop (paper eq. 6) on a person's support clips, "
            'print the support accuracy before and after, and store the adaptation where '
            'the perception node reloads it (same as the /adapt service).'
        ),
        epilog=(
            'Clips: rosbag2 folders, .mcap or .db3 files labelled by an /emotion/ground_truth '
            'topic or a sidecar <file>.labels.yaml ("label: anger_high" or "segments: '
            '[{start, end, label}]"), or videos with a sidecar or --labels. Example: '
            'st-f2m adapt --subject p07 --clips p07_support.mcap'
        ),
    )
    p.add_argument('--subject', required=True, help='person id (letters, digits, _ - .)')
    p.add_argument('--clips', nargs='+', required=True, metavar='FILE', help='support clips')
    p.add_argument(
        '--labels',
        nargs='+',
        metavar='LABEL',
        help='one class label per clip file (e.g. anger_high neutral), for unlabelled files',
    )
    p.add_argument(
        '--store', default=DEFAULT_STORE, help=f'adaptation store (default {DEFAULT_STORE})'
    )
    p.add_argument('--no-persist', action='store_true', help='do not store the adaptation')
    p.add_argument('--checkpoint', default='', help='model checkpoint (default: packaged one)')
    p.add_argument('--steps', type=int, default=0, help='inner-loop steps (0 = model default)')
    p.add_argument('--camera-topic', default=None, help='image topic when a bag has several')
    p.add_argument(
        '--clips-are-crops',
        action='store_true',
        help='clip frames already are face crops (skip face detection)',
    )
    p.add_argument('--max-clip-mb', type=float, default=512.0, help='largest clip file in MB')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Adapt, print the before/after table, persist."""
    import dataclasses

    from st_f2m_ros.ros.params import defaults
    from st_f2m_ros.runtime.adaptation.manager import AdaptRequest
    from st_f2m_ros.runtime.session import build_session

    clips = [str(Path(c).expanduser().resolve()) for c in args.clips]
    values = {
        **defaults(),
        'checkpoint': args.checkpoint,
        'adaptation_store': '' if args.no_persist else args.store,
        # The user's own files: each clip's folder is an allowed root.
        'clip_roots': sorted({str(Path(c).parent) for c in clips}),
        'max_clip_bytes': int(args.max_clip_mb * 1024 * 1024),
        'support_clips_are_crops': bool(args.clips_are_crops),
    }
    print(f'loading model {args.checkpoint or "(packaged default)"} ...', flush=True)
    session = build_session(values, args.subject, with_pipeline=False)
    manager = session.manager
    if args.camera_topic:
        manager.settings = dataclasses.replace(manager.settings, image_topic=args.camera_topic)
    try:
        request = AdaptRequest(
            args.subject,
            clip_uris=clips,
            inner_steps=max(0, args.steps),
            persist=not args.no_persist,
            uri_labels=list(args.labels or []),
        )
        print(f'adapting {args.subject} on {len(clips)} clip file(s) ...', flush=True)
        out = manager.adapt(request)
    finally:
        session.close()
    if not out.success:
        from st_f2m_ros.errors import AdaptationError

        raise AdaptationError(out.message)
    print(f'{"subject":<24}{args.subject}')
    print(f'{"clips used":<24}{out.clips_used}')
    print(
        f'{"support accuracy":<24}before {out.support_accuracy_before:.3f}  ->  '
        f'after {out.support_accuracy_after:.3f}'
    )
    print(f'{"duration":<24}{out.duration:.2f} s')
    print(f'{"model id":<24}{out.model_id}')
    if not args.no_persist and manager.store is not None:
        print(f'{"stored":<24}{manager.store.path_of(args.subject, out.version)}')
    return 0
