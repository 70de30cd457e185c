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
"""`st-f2m bench`: end-to-end perception frames/s, window latency and the stages per backend.

Targets (DESIGN section 6, issue 9): >= 60 frames/s with the fastest CPU backend on 2 cores,
>= 30 with eager PyTorch, p95 window latency <= 50 ms, >= 80 % of the frame rate while /adapt
runs, node memory <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the bench parser."""
    p = subparsers.add_parser(
        'bench',
        help='measure frames/s, window latency, per-stage times and memory per backend',
        description=(
            'Feed 640x480 synthetic camera frames (sensor_msgs/Image rgb8 fields, 30 Hz stamps) '
            'through the whole perception pipeline as fast as it takes them, for each backend, '
            'first alone and then while the /adapt inner loop runs on another thread; print '
            'frames/s, window latency p50/p95, resident memory and the machine, then the '
            "front end's stages per frame: decode, face (detect, tracked mesh, measure: "
            'components and quality), crop, encode (E: for a fer_mini_xception model the '
            'expression net) and classify (the window head), each as calls, median and p95 ms '
            'a call and mean ms per frame. Works for any checkpoint (--checkpoint), pixel or '
            'FER backbone. Each figure also comes as CPU time (the process, all threads): '
            'on a loaded shared machine the wall times wait for the CPU, the CPU times hardly '
            'change, and 1000 / CPU ms per frame (CPU-bound f/s; in the adapting phase it '
            'includes the adaptation) estimates the rate with the machine to itself; win CPU '
            'p95 is the CPU time of the frames that completed a window. A '
            'benchmark, not a test: numbers depend on the machine and its load (printed before '
            'and after).'
        ),
        epilog=(
            'example: st-f2m bench --backends torch,onnx --seconds 10 --threads 2 '
            "--json bench.json; the real node process's memory: "
            '.venv-ros/bin/python benchmarks/bench_node_memory.py'
        ),
    )
    p.add_argument(
        '--checkpoint', default=None,
        help='model checkpoint; default: the shipped one, or an untrained default-size model',
    )  # fmt: skip
    p.add_argument(
        '--backends', default='torch,onnx',
        help='comma-separated backends to measure (torch, onnx, tensorrt); default torch,onnx',
    )  # fmt: skip
    p.add_argument('--seconds', type=float, default=8.0, help='seconds per phase (default 8)')
    p.add_argument('--threads', type=int, default=2, help='inference threads (default 2)')
    p.add_argument('--no-adapt', action='store_true', help='skip the during-adaptation phase')
    p.add_argument(
        '--camera-rate', type=float, default=30.0,
        help='camera rate (Hz) of the stamps and of the paced runs (default 30)',
    )  # fmt: skip
    p.add_argument(
        '--modes', default='max,paced',
        help='max: frames back to back (throughput); paced: at the camera rate with a depth-1 '
        'queue, as on the robot (default max,paced)',
    )  # fmt: skip
    p.add_argument('--onnx-dir', default=None, help='reuse / keep the ONNX export here')
    p.add_argument(
        '--face-detector', default='', choices=('', 'blazeface_full', 'blazeface_short', 'haar'),
        help='face stage (default: the node default, blazeface_full; Haar when the model files '
        'are not installed)',
    )  # fmt: skip
    p.add_argument(
        '--redetect-every', type=int, default=0,
        help='also run BlazeFace every N tracked frames (node: face_redetect_every), so that the '
        "detector's cost shows in the phase; default 0: only when the face is lost, as the node",
    )  # fmt: skip
    p.add_argument('--json', default=None, help='also write every figure to this JSON file')
    p.set_defaults(func=run)


def _model(checkpoint: str | None):
    from st_f2m_ros.errors import ModelError
    from st_f2m_ros.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    if checkpoint is not None or DEFAULT_CHECKPOINT.is_file():
        model = load_checkpoint(checkpoint)
        return model, f'checkpoint {model.model_id}'
    try:
        from st_f2m_ros.model.config import STF2MConfig
        from st_f2m_ros.model.stf2m import STF2MModel

        model = STF2MModel(STF2MConfig()).eval()
    except Exception as err:
        raise ModelError(f'no checkpoint shipped and cannot build a default model: {err}') from err
    return model, 'untrained model of the default config (no checkpoint shipped)'


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table."""
    from st_f2m_ros.runtime.inference.cpu import prefer_passive_threads

    prefer_passive_threads()  # before torch is imported: see runtime/inference/cpu.py
    import torch

    from st_f2m_ros.errors import ConfigError
    from st_f2m_ros.runtime.bench import (
        _Adapter,
        format_table,
        machine_line,
        render_frames,
        report_dict,
        run_phase,
        support_clips,
    )
    from st_f2m_ros.runtime.bench_stages import format_stages, rss_mb
    from st_f2m_ros.runtime.inference.factory import build_recognizer

    torch.set_num_threads(max(1, args.threads))
    backends = [b.strip() for b in args.backends.split(',') if b.strip()]
    if not backends:
        raise ConfigError('--backends lists no backend')
    load_before = [round(x, 2) for x in os.getloadavg()] if hasattr(os, 'getloadavg') else []
    model, what = _model(args.checkpoint)
    cfg = model.config
    print(machine_line(args.threads))
    print(f'model: {what}; backbone {cfg.backbone}, crop {cfg.crop_size}, T={cfg.window}, '
          f'fuzzy {cfg.fuzzy}')  # fmt: skip
    frames = render_frames(90)
    clips = [] if args.no_adapt else support_clips(cfg.crop_size)
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]
    if not modes or set(modes) - {'max', 'paced'}:
        raise ConfigError(f'--modes takes max and/or paced, got {args.modes!r}')
    rows = []
    for name in backends:
        rec = build_recognizer(name, model=model, onnx_dir=args.onnx_dir, num_threads=args.threads)
        for mode in modes:
            print(f'measuring {name} ({mode}) ...', flush=True)
            kw = {
                'paced': mode == 'paced',
                'camera_fps': args.camera_rate,
                'detector': args.face_detector,
                'redetect_every': args.redetect_every,
            }
            rows.append(run_phase(rec, frames, args.seconds, **kw))
            if not args.no_adapt:
                rec.reset()
                adapter = _Adapter(model, clips, rec)
                rows.append(run_phase(rec, frames, args.seconds, adapter=adapter, **kw))
                if adapter.error:
                    print(f'  adaptation failed: {adapter.error}')
    print()
    for line in format_table(rows):
        print(line)
    print()
    print('stages (ms a call; ms/frame = mean cost per processed frame):')
    for line in format_stages(rows):
        print(line)
    current, peak = rss_mb()
    print(f'memory: bench process (pipeline + model in-process, no rclpy) RSS {current:.0f} MB, '
          f'peak {peak:.0f} MB')  # fmt: skip
    print(machine_line(args.threads))
    if args.json:
        from st_f2m_ros.data.io_utils import atomic_path

        info = {'what': what, 'backbone': cfg.backbone, 'crop': cfg.crop_size,
                'window': cfg.window, 'fuzzy': cfg.fuzzy, 'face_detector': args.face_detector
                or 'default', 'redetect_every': args.redetect_every}  # fmt: skip
        report = report_dict(rows, info, args.threads, load_before)
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
