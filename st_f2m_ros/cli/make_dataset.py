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
"""`st-f2m make-dataset`: write the synthetic benchmark as a training dataset folder."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the make-dataset parser."""
    p = subparsers.add_parser(
        'make-dataset',
        help='write a synthetic training dataset (face crops, labels, components, transcripts)',
        description=(
            'Generate synthetic subjects and write one .npz per clip (face crops cut with '
            'perception.crop.crop_face from the full frame, per-frame labels and Table II '
            'component values, transcripts with times, subject ids) plus index.json. Load it '
            'with st_f2m_ros.data.load_clips(DIR) or ClipDataset(DIR). The output is the same '
            'for any number of workers.'
        ),
    )
    p.add_argument('--out', required=True, help='output folder (created)')
    p.add_argument('--subjects', type=int, default=8, help='number of people (default 8)')
    p.add_argument('--clips-per-subject', type=int, default=4, help='clips per person (default 4)')
    p.add_argument('--duration', type=float, default=10.0, help='seconds per clip (default 10)')
    p.add_argument('--seed', type=int, default=0, help='dataset seed (default 0)')
    p.add_argument('--crop-size', type=int, default=112, help='face crop side in px (default 112)')
    p.add_argument('--fps', type=float, default=30.0, help='frame rate (default 30)')
    p.add_argument(
        '--corrupt',
        default='',
        metavar='SPEC',
        help='corruptions, e.g. "fog:0.3,mask:0.1" (kinds: fog, mask, occlusion, distortion, '
        'text; levels in [0, 1])',
    )
    p.add_argument(
        '--label-noise',
        type=float,
        default=0.0,
        help='chance a transcript utterance comes from another emotion (default 0)',
    )
    p.add_argument(
        '--frame-label-noise',
        type=float,
        default=0.0,
        metavar='F',
        help="fraction of every clip's frames given another class, seeded by --seed (Table V: "
        '0.3; default 0). All clips are noised: for held-out validation use a clean folder or '
        "the train config's data.frame_label_noise, which spares validation subjects",
    )
    p.add_argument(
        '--idiosyncrasy',
        type=float,
        default=1.0,
        help='scale of per-person expression gains/offsets (0 = all alike; default 1)',
    )
    p.add_argument('--workers', type=int, default=1, help='parallel processes (default 1)')
    p.add_argument('--compress', action='store_true', help='compressed .npz (smaller, slower)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write the dataset, with a progress bar."""
    from dataclasses import replace

    from tqdm import tqdm

    from st_f2m_ros.data.dataset import make_synthetic_dataset
    from st_f2m_ros.data.synthetic import SyntheticConfig, parse_corruptions
    from st_f2m_ros.errors import ConfigError

    if args.subjects < 1 or args.clips_per_subject < 1 or args.workers < 1:
        raise ConfigError('--subjects, --clips-per-subject and --workers must be >= 1')
    if not 0 <= args.frame_label_noise <= 1:
        raise ConfigError(f'--frame-label-noise must be in [0, 1], got {args.frame_label_noise}')
    base = SyntheticConfig()
    cfg = replace(
        base,
        fps=args.fps,
        duration=args.duration,
        corruptions=parse_corruptions(args.corrupt),
        transcript=replace(base.transcript, label_noise=args.label_noise),
    )
    total = args.subjects * args.clips_per_subject
    with tqdm(total=total, unit='clip', desc='make-dataset') as bar:
        index = make_synthetic_dataset(
            args.out,
            n_subjects=args.subjects,
            clips_per_subject=args.clips_per_subject,
            duration=args.duration,
            seed=args.seed,
            crop_size=args.crop_size,
            config=cfg,
            workers=args.workers,
            compress=args.compress,
            idiosyncrasy=args.idiosyncrasy,
            progress=lambda done, _total: bar.update(done - bar.n),
        )
    frames = sum(e.frames for e in index.entries)
    if args.frame_label_noise > 0:
        from st_f2m_ros.data.label_noise import noise_dataset_folder

        changed = noise_dataset_folder(
            index.root, args.frame_label_noise, args.seed, args.compress
        )
        print(f'frame label noise: {changed} of {frames} frames relabelled')
    print(
        f'wrote {len(index)} clips ({frames} frames, {len(index.subjects)} subjects) '
        f'to {index.root}'
    )
    return 0
