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
"""`ros2 bag play session.mcap` (no --clock) into the running node gives real decisions.

The bag's old stamps are published at real-time pace into the real PerceptionNode, started
more than stale_timeout before the first frame (as on a robot: the node runs, then someone
plays a bag). The node used to report STALE in node time before the bag started and then
skip every bag frame as `late_after_stale` (20 STALE messages in 15 s on a real graph), and
String transcripts were stamped in node time. Played twice in a row, the stamps go back by
the bag's length; that must work too.
"""

from __future__ import annotations

from pathlib import Path
import sys
import time

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('st_f2m_ros.msg')
sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: siblings by path

from pipeline_support import (
    STATUS_STALE,
    compressed_msg,
    run_graph,
    string_msg,
    wait_for,
)

BAG_SECONDS = 5.0


@pytest.fixture
def bag_messages(tmp_path: Path) -> list[tuple[float, str, object]]:
    """(log time, kind, payload) of a generated 5 s session bag read back with rosbags."""
    from st_f2m_ros.data.bag_reader import BagReader
    from st_f2m_ros.data.bag_writer import write_synthetic_bag
    from st_f2m_ros.data.synthetic.generator import SyntheticConfig

    path = tmp_path / 'session'
    cfg = SyntheticConfig(fps=15.0, width=320, height=240, duration=BAG_SECONDS)
    write_synthetic_bag(
        path, duration=BAG_SECONDS, config=cfg, encoding='jpeg', transcript_type='string'
    )
    out = []
    with BagReader(path) as reader:
        for m in reader.messages():
            if m.msgtype == 'sensor_msgs/msg/CompressedImage':
                out.append((m.log_time, 'frame', (m.stamp, m.msg.format, bytes(m.msg.data))))
            elif m.msgtype == 'std_msgs/msg/String':
                out.append((m.log_time, 'text', m.msg.data))
    assert sum(k == 'frame' for _, k, _ in out) >= 60
    assert any(k == 'text' for _, k, _ in out)
    return out


def play(graph, messages, rate: float = 1.0) -> None:
    """Publish like `ros2 bag play`: at log-time pace, header stamps untouched, no /clock."""
    t0 = messages[0][0]
    wall0 = time.monotonic()
    for log_time, kind, payload in messages:
        delay = (log_time - t0) / rate - (time.monotonic() - wall0)
        if delay > 0:
            time.sleep(delay)
        if kind == 'frame':
            stamp, fmt, data = payload
            graph.compressed.publish(compressed_msg(stamp, fmt, data))
        else:
            graph.string.publish(string_msg(payload))


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


@pytest.fixture
def graph(tiny_checkpoint: Path, tmp_path: Path):
    yield from run_graph(
        tiny_checkpoint, tmp_path, 'use_compressed:=true', 'transcript_type:=string',
        'stale_timeout:=1.0', 'diagnostics_period:=0.2',
    )  # fmt: skip


def test_bag_play_without_clock_gives_decisions_in_the_bags_time(graph, bag_messages) -> None:
    time.sleep(2.0)  # the node ticks (and reports silence) before the bag starts
    before = len(graph.sequences)
    bag_start, bag_end = bag_messages[0][0], bag_messages[-1][0]
    for lap in range(2):  # played twice in a row: stamps go back by the bag's length
        n0 = len(graph.sequences)
        play(graph, bag_messages)
        assert wait_for(lambda n0=n0: len(graph.sequences) > n0, 5.0)
        time.sleep(0.5)
        lap_msgs = graph.sequences[n0:]
        in_bag = [
            m for m in lap_msgs
            if bag_start - 1e-6 <= stamp_s(m) <= bag_end + 1e-6
            and m.states and m.states[-1].status != STATUS_STALE
        ]  # fmt: skip
        # 5 s of frames at a 0.25 s hop after a 1 s window: ~16 decisions per lap.
        assert len(in_bag) >= 8, (
            f'lap {lap}: {len(in_bag)} of {len(lap_msgs)} messages are decisions in the '
            f"bag's time; diagnostics: {graph.values()}"
        )
        stamps = [stamp_s(m) for m in in_bag]
        assert stamps == sorted(stamps)
    values = graph.values()
    assert int(values.get('skipped_late_after_stale', 0)) == 0, values
    assert before >= 1  # silence before the bag was still reported (STALE)
    assert graph.sequences[before - 1].states[-1].status == STATUS_STALE
