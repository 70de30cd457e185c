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
"""Memory of a real perception node process with the real-face front end (issue 9: <= 1.5 GB).

`st-f2m bench` reports the memory of its own process, which runs the pipeline without rclpy;
this one measures what a robot runs: `scripts/perception_node` as its own process (rclpy,
executor, subscriptions, model, front end), fed 640x480 rgb8 frames of a synthetic person at
30 Hz over DDS (this run's domain, localhost only: the ros_live harness's isolation), while
its VmRSS and VmHWM (peak) are sampled from /proc/<pid>/status. Needs the ROS virtual
environment and the model files (ST_F2M_MODELS_DIR or `--models-dir`):

    .venv-ros/bin/python benchmarks/bench_node_memory.py --seconds 20 --backend onnx \\
        --models-dir .venv/share/st_f2m_ros/models [--checkpoint X.safetensors] [--json out.json]

`--adapt` also calls /adapt (six inline clips) a third of the way in, with the camera running,
so that the peak includes an adaptation (the camera runs on until it has answered).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import signal
import sys
import tempfile
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'test' / 'ros_live'))  # the live harness: domain, node process
sys.path.insert(0, str(ROOT))


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MiB (empty when the process is gone)."""
    out = {}
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                key, _, rest = line.partition(':')
                if key in ('VmRSS', 'VmHWM'):
                    out[key] = float(rest.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def adapt_request(subject: str, clips_per_class: int = 2, frames: int = 24) -> Any:
    """An /adapt request with inline support clips: one synthetic person, three classes,
    320x240 frames (the node's face stage cuts the crops, as for a robot's recordings)."""
    from sensor_msgs.msg import Image

    from st_f2m_ros.data.synthetic import SyntheticConfig
    from st_f2m_ros.data.synthetic.generator import SyntheticSession
    from st_f2m_ros.data.synthetic.subjects import make_subjects
    from st_f2m_ros.msg import SupportClip
    from st_f2m_ros.srv import Adapt
    from st_f2m_ros.taxonomy import CLASS_LABELS, class_id

    person = make_subjects(1, seed=3)[0]
    cfg = SyntheticConfig(fps=8.0, width=320, height=240, duration=frames / 8.0)
    req = Adapt.Request(subject_id=subject, inner_steps=10, persist=False)
    for k, (emotion, level) in enumerate([('happiness', 'high'), ('anger', 'high'),
                                          ('neutral', None)] * clips_per_class):  # fmt: skip
        cid = class_id(emotion, level)
        clip = SupportClip(label=CLASS_LABELS[cid])
        for f in SyntheticSession(person, cfg, seed=k, classes=(cid,)).frames():
            img = f.image
            clip.frames.append(Image(height=img.shape[0], width=img.shape[1], encoding='bgr8',
                                     step=3 * img.shape[1], data=img.tobytes()))  # fmt: skip
        req.clips.append(clip)
    return req


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', default='', help='default: the packaged checkpoint')
    p.add_argument('--backend', default='torch', choices=('torch', 'onnx'))
    p.add_argument('--seconds', type=float, default=20.0, help='seconds of camera (default 20)')
    p.add_argument('--threads', type=int, default=2, help='node num_threads (default 2)')
    p.add_argument('--models-dir', default='', help='folder of the real-face model files')
    p.add_argument('--json', default='', help='also write the figures to this JSON file')
    p.add_argument(
        '--adapt', action='store_true',
        help='call /adapt (6 inline clips, 10 inner steps) after a third of the time, while the '
        'camera keeps running: the peak then includes an adaptation',
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.models_dir:
        os.environ['ST_F2M_MODELS_DIR'] = str(Path(args.models_dir).resolve())
    import conftest as harness  # sets ROS_DOMAIN_ID etc. before rclpy is initialised
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from st_f2m_ros.msg import EmotionSequence
    from st_f2m_ros.perception.image_convert import bgr_to_image
    from st_f2m_ros.runtime.bench import render_frames

    folder = Path(tempfile.mkdtemp(prefix='st_f2m_node_memory_'))
    params = {
        'backend': args.backend,
        'num_threads': args.threads,
        'export_dir': str(folder / 'onnx'),
        'adaptation_store': str(folder / 'adaptations'),
        'clip_roots': [str(folder)],
    }
    if args.models_dir:
        params['models_dir'] = os.environ['ST_F2M_MODELS_DIR']
    if args.checkpoint:
        params['checkpoint'] = str(Path(args.checkpoint).resolve())
    ros_args = ['--ros-args']
    for name, value in params.items():
        ros_args += harness.ros_param(harness.PERCEPTION, name, value)
    frames = [bgr_to_image(f, 'rgb8') for f in render_frames(90)]
    graph = harness.RosGraph([])
    proc = harness.NodeProcess('perception_node', folder, ros_args)
    samples: list[dict[str, float]] = []
    try:
        proc.wait_for_output('ready: model', timeout=300.0)
        after_start = proc_memory(proc.proc.pid)
        camera = graph.publisher(Image, 'image', qos_profile_sensor_data)
        graph.wait_for_subscribers(camera, timeout=30.0)
        out = graph.record(EmotionSequence, 'emotion/sequence')
        adapt_client = future = None
        if args.adapt:
            from st_f2m_ros.srv import Adapt

            request = adapt_request('bench')
            adapt_client = graph.client(Adapt, 'adapt')
            assert adapt_client.wait_for_service(timeout_sec=30.0), 'no /adapt service'
        t0 = next_at = time.monotonic()
        sent = 0

        def running() -> bool:
            elapsed = time.monotonic() - t0
            waiting = future is not None and not future.done() and elapsed < args.seconds + 300
            return elapsed < args.seconds or waiting

        while running():
            if (
                adapt_client is not None
                and future is None
                and time.monotonic() - t0 > (args.seconds / 3)
            ):
                future = adapt_client.call_async(request)
            f = frames[sent % len(frames)]
            msg = Image(height=f.height, width=f.width, encoding=f.encoding, step=f.step)
            msg.data = bytes(f.data)
            msg.header.stamp = graph.now()
            camera.publish(msg)
            sent += 1
            if sent % 15 == 0:
                samples.append(proc_memory(proc.proc.pid))
            next_at += 1.0 / 30.0
            time.sleep(max(0.0, next_at - time.monotonic()))
        time.sleep(1.0)
        final = proc_memory(proc.proc.pid)
        results = len(out.messages)
        adapted = future.result().message if future is not None and future.done() else ''
        if future is not None:
            print(f'/adapt: success={future.result().success}: {adapted}')
        code, _ = proc.stop(signal.SIGINT, timeout=15.0)
    finally:
        proc.kill()
        graph.close()
    rss = [s['VmRSS'] for s in samples if 'VmRSS' in s]
    report = {
        'what': 'scripts/perception_node process (rclpy, model, front end)',
        'checkpoint': args.checkpoint or 'packaged default',
        'backend': args.backend,
        'frames_sent': sent,
        'sequences_received': results,
        'rss_after_start_mb': after_start.get('VmRSS', 0.0),
        'rss_median_mb': sorted(rss)[len(rss) // 2] if rss else 0.0,
        'rss_peak_mb': final.get('VmHWM', 0.0),
        'adapt': adapted if args.adapt else 'not called',
        'exit_code': code,
        'load_average': [round(x, 2) for x in os.getloadavg()],
    }
    print(
        f'perception_node ({args.backend}, {report["checkpoint"]}): RSS after start '
        f'{report["rss_after_start_mb"]:.0f} MB, while running {report["rss_median_mb"]:.0f} MB '
        f'(median), peak {report["rss_peak_mb"]:.0f} MB; {sent} frames sent, {results} '
        f'sequences back; {"with" if args.adapt else "no"} /adapt; load '
        f'{report["load_average"][0]:.1f}'
    )
    if code != 0:
        print(f'node exit code {code}:\n{proc.output()[-3000:]}')
    if args.json:
        from st_f2m_ros.data.io_utils import atomic_path

        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + '\n')
    return 0 if code == 0 and results > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
