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
"""`st-f2m run`: replay a bag through the recognizer and record the EmotionSequence stream.

The embedded default without ROS 2: the same core as the perception node, driven by the bag's
own timestamps, so the output is what the node would have published during `ros2 bag play`.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the run parser."""
    p = subparsers.add_parser(
        'run',
        help='replay a rosbag2 through the recognizer and write the EmotionSequence stream',
        description=(
            'Read a rosbag2 (MCAP or sqlite3) with a camera topic (sensor_msgs/Image in any '
            'common encoding, or CompressedImage) and optionally a transcript topic '
            '(std_msgs/String or st_f2m_ros/Transcript), run face tracking, windowing, the '
            "ST-F2M recognizer and temporal post-processing at the bag's timestamps, write "
            'st_f2m_ros/EmotionSequence messages on /emotion/sequence to a new bag (metadata '
            'version 8, playable on Humble and Jazzy) and print what was processed and skipped.'
        ),
        epilog='example: st-f2m run --bag demo_bag --out demo_out/emotions --backend onnx',
    )
    p.add_argument('--bag', required=True, help='input bag folder or file')
    p.add_argument('--out', required=True, help='output bag folder to create')
    p.add_argument('--overwrite', action='store_true', help='replace an existing --out')
    p.add_argument(
        '--camera-topic', default='/camera/image_raw',
        help='camera topic (default /camera/image_raw; if absent, the first image topic)',
    )  # fmt: skip
    p.add_argument(
        '--transcript-topic', default='/speech/transcript',
        help='transcript topic (default /speech/transcript; skipped if absent)',
    )  # fmt: skip
    p.add_argument(
        '--checkpoint', default=None,
        help='model checkpoint (.safetensors); default: the one shipped with the package',
    )  # fmt: skip
    p.add_argument(
        '--backend', choices=('torch', 'onnx', 'tensorrt'), default='torch',
        help='inference backend (default torch; onnx is faster on CPU)',
    )  # fmt: skip
    p.add_argument('--onnx-dir', default=None, help='keep / reuse the ONNX export here')
    p.add_argument('--subject', default='', help='subject id written into the output')
    p.add_argument(
        '--config', default=None,
        help='perception parameters as for the node (config/perception.yaml: window_hop, '
        'min_confidence, min_segment, face_detect_every, ...); options given here win',
    )  # fmt: skip
    p.add_argument('--hop', type=float, default=None, help='window hop in seconds (default 0.25)')
    p.add_argument(
        '--window', type=float, default=None,
        help="window length in seconds (default: the model's window / feature_rate)",
    )  # fmt: skip
    p.add_argument('--no-text', action='store_true', help='ignore the transcript modality')
    p.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap', help='output storage')
    p.add_argument('--threads', type=int, default=2, help='CPU threads for inference (default 2)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Replay the bag and print the summary."""
    from st_f2m_ros.runtime.inference.cpu import prefer_passive_threads

    prefer_passive_threads()  # before torch is imported: see runtime/inference/cpu.py
    from tqdm import tqdm

    from st_f2m_ros.runtime.inference.factory import build_recognizer
    from st_f2m_ros.runtime.pipeline.pipeline import PerceptionPipeline, PipelineConfig
    from st_f2m_ros.runtime.replay import SequenceBagWriter, replay_bag

    recognizer = build_recognizer(
        args.backend, checkpoint=args.checkpoint, onnx_dir=args.onnx_dir, num_threads=args.threads
    )
    config = PipelineConfig()
    if args.config:
        from st_f2m_ros.runtime.session import pipeline_config

        config = pipeline_config(_node_parameters(args.config), args.subject)
    config.subject_id = args.subject
    config.window_length = args.window if args.window is not None else config.window_length
    config.window_hop = args.hop if args.hop is not None else config.window_hop
    config.use_text = config.use_text and not args.no_text
    pipeline = PerceptionPipeline(recognizer, config)
    pipeline.warm_up()  # model loading is not replay time
    writer = SequenceBagWriter(args.out, storage=args.storage, overwrite=args.overwrite)
    bar = tqdm(total=0, unit='msg', disable=args.quiet, desc='replay')

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        summary = replay_bag(
            pipeline, args.bag, on_result=writer.write, camera_topic=args.camera_topic,
            transcript_topic=args.transcript_topic, progress=progress,
        )  # fmt: skip
    finally:
        bar.close()
        writer.close()
    print(f'st-f2m run: {args.bag} -> {args.out} ({args.backend}, model {recognizer.model_id})')
    for line in summary.lines():
        print('  ' + line)
    return 0


def _node_parameters(path: str) -> dict:
    """The `ros__parameters` of a node parameter file (or a flat YAML mapping)."""
    from pathlib import Path

    import yaml

    from st_f2m_ros.errors import ConfigError

    try:
        data = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f'cannot read --config {path}: {err}') from err
    if isinstance(data, dict):
        for node in data.values():
            if isinstance(node, dict) and isinstance(node.get('ros__parameters'), dict):
                return node['ros__parameters']
        return data
    raise ConfigError(f'--config {path} must hold a mapping of parameters')
