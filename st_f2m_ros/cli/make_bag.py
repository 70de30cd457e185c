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
"""`st-f2m make-bag`: write a synthetic rosbag2 (camera, transcript, ground truth)."""

from __future__ import annotations

import argparse
import os


def _resolution(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition('x')
    try:
        if not sep:
            raise ValueError
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'resolution must look like 640x480, got {text!r}'
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the make-bag parser."""
    p = subparsers.add_parser(
        'make-bag',
        help='write a synthetic rosbag2 (camera + transcript + ground truth) for replay',
        description=(
            'Render synthetic subjects one after another and write a rosbag2 with the camera '
            '(sensor_msgs/Image bgr8/rgb8, or CompressedImage with --encoding jpeg), the '
            'transcript (st_f2m_ros/Transcript and/or std_msgs/String) and the ground truth '
            '(st_f2m_ros/EmotionSequence, one state per script segment). Metadata version 8: '
            'ros2 bag play works on Humble and Jazzy.'
        ),
        epilog='example: st-f2m make-bag --out demo.mcap.d --subjects 2 --duration 30 '
        '--corrupt fog:0.3',
    )
    p.add_argument('--out', required=True, help='bag folder to create')
    p.add_argument('--subjects', type=int, default=1, help='people, one after another (default 1)')
    p.add_argument(
        '--subject-ids', nargs='+', default=None, metavar='ID',
        help='record these people by id instead (same id and --seed = same person)',
    )  # fmt: skip
    p.add_argument(
        '--clip-index', type=int, default=0,
        help="which of each person's recordings (another script per index; default 0), "
        'e.g. 1 for a support recording of the person in a session bag',
    )  # fmt: skip
    p.add_argument('--duration', type=float, default=10.0, help='seconds per subject (default 10)')
    p.add_argument('--seed', type=int, default=0, help='seed (default 0)')
    p.add_argument(
        '--storage',
        choices=('mcap', 'sqlite3'),
        default='mcap',
        help='storage plugin (default mcap)',
    )
    p.add_argument(
        '--encoding',
        choices=('bgr8', 'rgb8', 'jpeg'),
        default='bgr8',
        help='image encoding; jpeg writes sensor_msgs/CompressedImage (default bgr8)',
    )
    p.add_argument(
        '--transcript-type',
        choices=('transcript', 'string', 'both'),
        default='transcript',
        help='st_f2m_ros/Transcript, std_msgs/String, or both (String on the topic, '
        'Transcript on TOPIC_stamped); default transcript',
    )
    p.add_argument(
        '--corrupt',
        default='',
        metavar='SPEC',
        help='corruptions, e.g. "fog:0.3,mask:0.1" (fog, mask, occlusion, distortion, '
        'text; levels in [0, 1])',
    )
    p.add_argument(
        '--label-noise',
        type=float,
        default=0.0,
        help='chance a transcript utterance comes from another emotion (default 0)',
    )
    p.add_argument('--fps', type=float, default=30.0, help='frame rate (default 30)')
    p.add_argument(
        '--resolution', type=_resolution, default=(640, 480), help='WIDTHxHEIGHT (default 640x480)'
    )
    p.add_argument(
        '--image-topic',
        default='/camera/image_raw',
        help='raw image topic (default /camera/image_raw)',
    )
    p.add_argument(
        '--compressed-topic',
        default='/camera/image_raw/compressed',
        help='compressed image topic (default /camera/image_raw/compressed)',
    )
    p.add_argument(
        '--transcript-topic',
        default='/speech/transcript',
        help='transcript topic (default /speech/transcript)',
    )
    p.add_argument(
        '--ground-truth-topic',
        default='/emotion/ground_truth',
        help='ground-truth topic (default /emotion/ground_truth)',
    )
    p.add_argument('--frame-id', default='camera', help='header frame_id (default camera)')
    p.add_argument(
        '--distro',
        choices=('humble', 'jazzy'),
        default='humble',
        help='message definitions to embed (default humble)',
    )
    p.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the bag with a progress bar."""
    from dataclasses import replace

    from tqdm import tqdm

    from st_f2m_ros.data.bag_writer import BagTopics, write_synthetic_bag
    from st_f2m_ros.data.synthetic import SyntheticConfig, parse_corruptions
    from st_f2m_ros.errors import ConfigError, DataError

    if args.subjects < 1 or args.duration <= 0:
        raise ConfigError('--subjects must be >= 1 and --duration > 0')
    if os.path.exists(args.out) and not args.overwrite:
        raise DataError(f'{args.out} exists; choose another --out or pass --overwrite')
    base = SyntheticConfig()
    cfg = replace(
        base,
        fps=args.fps,
        width=args.resolution[0],
        height=args.resolution[1],
        duration=args.duration,
        corruptions=parse_corruptions(args.corrupt),
        transcript=replace(base.transcript, label_noise=args.label_noise),
    )
    topics = BagTopics(
        args.image_topic,
        args.compressed_topic,
        args.transcript_topic,
        args.ground_truth_topic,
        args.frame_id,
    )
    people = len(args.subject_ids) if args.subject_ids else args.subjects
    with tqdm(total=people * cfg.n_frames, unit='frame', desc='make-bag') as bar:
        summary = write_synthetic_bag(
            args.out,
            subjects=args.subjects,
            duration=args.duration,
            seed=args.seed,
            config=cfg,
            storage=args.storage,
            encoding=args.encoding,
            transcript_type=args.transcript_type,
            topics=topics,
            distro=args.distro,
            overwrite=args.overwrite,
            progress=bar.update,
            subject_ids=args.subject_ids,
            clip_index=args.clip_index,
        )
    print(
        f'wrote {summary.path} ({summary.storage}, {summary.duration:g} s): '
        f'{summary.frames} frames, {summary.transcripts} transcripts, '
        f'{summary.ground_truth} ground-truth states'
    )
    return 0
