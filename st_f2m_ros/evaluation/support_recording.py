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
"""K-shot support recordings of a synthetic person, labelled the way a carer would label them.

A support recording is what /adapt takes from a file: a rosbag2 with one camera topic and no
ground-truth topic, plus a sidecar `<bag>.labels.yaml` with `segments: [{start, end, label}]`
(runtime/adaptation/clip_sources.py). The person shows every one of the 19 classes once per
round, in a fresh order each round (no class twice in a row, so clips never merge); the
K-shot bag is the first K rounds of one rendering, so the 1-, 3- and 5-shot support sets are
nested and differ only in how much the person was recorded. A label-noise variant of a bag is
the same frames (hard links) with a sidecar in which a fixed fraction of the clips carries a
wrong label, never that of a neighbouring clip (which would merge the two into one clip).
The support camera runs at the model's feature rate: /adapt keeps only frames on that grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import os
from pathlib import Path
import shutil
from typing import Any

import numpy as np

from st_f2m_ros.errors import ConfigError
from st_f2m_ros.taxonomy import CLASS_LABELS, NUM_CLASSES

IMAGE_TOPIC = '/camera/image_raw/compressed'
IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'


@dataclass(frozen=True)
class SupportBag:
    """One support recording as /adapt sees it, and what its sidecar claims."""

    path: Path
    shots: int
    noise: float
    true_labels: list[int]  # per clip, in recording order
    given_labels: list[int]  # what the sidecar says
    seconds: float

    @property
    def wrong(self) -> int:
        """Clips whose sidecar label is not the true one."""
        return sum(a != b for a, b in zip(self.true_labels, self.given_labels))


def class_rounds(rng: np.random.Generator, rounds: int) -> tuple[int, ...]:
    """`rounds` shuffled passes over all classes, no class twice in a row across passes."""
    order: list[int] = []
    for _ in range(rounds):
        perm = [int(c) for c in rng.permutation(NUM_CLASSES)]
        if order and perm[0] == order[-1]:
            perm[0], perm[-1] = perm[-1], perm[0]
        order.extend(perm)
    return tuple(order)


def support_order(subject: str, seed: int, rounds: int) -> tuple[int, ...]:
    """The class order of `subject`'s support recording: deterministic in (subject, seed)."""
    return class_rounds(np.random.default_rng([seed, 7, *subject.encode()]), rounds)


def support_session(
    subject: str,
    seed: int,
    config: Any,
    order: tuple[int, ...],
    clip_seconds: tuple[float, float] = (1.0, 2.0),
    start_time: float = 0.0,
) -> Any:
    """The SyntheticSession of a support recording: the person shows the classes of `order`,
    one clip each, clip lengths drawn in `clip_seconds`; the recording may run on after the
    last one (its end is `session.script.segments[len(order) - 1].end`)."""
    from st_f2m_ros.data.synthetic.generator import SyntheticSession
    from st_f2m_ros.data.synthetic.subjects import make_subject

    lo, hi = clip_seconds
    script = replace(config.script, min_segment=lo, max_segment=hi)
    cfg = replace(config, script=script, duration=len(order) * hi + hi)
    return SyntheticSession(
        make_subject(subject, seed), cfg, seed, clip_index=1, classes=order, start_time=start_time
    )


def noisy_labels(labels: list[int], fraction: float, rng: np.random.Generator) -> list[int]:
    """`labels` with round(fraction * n) of them replaced by a wrong class (not a neighbour's)."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f'label noise must be in [0, 1), got {fraction}')
    out = list(labels)
    for i in sorted(rng.choice(len(out), round(fraction * len(out)), replace=False).tolist()):
        banned = {labels[i]}
        banned.update(out[j] for j in (i - 1, i + 1) if 0 <= j < len(out))
        out[i] = int(rng.choice([c for c in range(NUM_CLASSES) if c not in banned]))
    return out


def _write_sidecar(bag: Path, segments: list[tuple[float, float]], labels: list[int]) -> None:
    import yaml

    doc = {
        'segments': [
            {'start': round(a, 6), 'end': round(b, 6), 'label': CLASS_LABELS[c]}
            for (a, b), c in zip(segments, labels)
        ]
    }
    side = bag.with_name(bag.name + '.labels.yaml')
    tmp = side.with_name(side.name + '.tmp')
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False), encoding='utf-8')
    tmp.replace(side)


def _link_bag(src: Path, dst: Path) -> None:
    """`dst` holds the same files as the bag folder `src` (hard links; copies across devices)."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in src.iterdir():
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)


def write_support_bags(
    out: Path,
    subject: str,
    seed: int,
    variants: list[tuple[int, float]],
    config: object,
    clip_seconds: tuple[float, float] = (1.0, 2.0),
) -> list[SupportBag]:
    """Record `subject`'s support bags under `out`: one per (shots, label noise) variant.

    `config` is the data.synthetic.SyntheticConfig of the camera (fps, resolution, realism);
    clip lengths are drawn in `clip_seconds`. Deterministic in (subject, seed). Bags are
    returned most shots first.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    from st_f2m_ros.data.bag_messages import MessageFactory, reliable_qos
    from st_f2m_ros.data.bag_writer import DEFAULT_START
    from st_f2m_ros.interfaces import typestore

    shots = sorted({k for k, _ in variants}, reverse=True)
    if not shots or shots[-1] < 1:
        raise ConfigError(f'shots must be positive clip counts per class, got {variants}')
    lo, hi = clip_seconds
    if not 0 < lo <= hi:
        raise ConfigError(f'clip seconds must be 0 < min <= max, got {clip_seconds}')
    tag = list(subject.encode())
    order = support_order(subject, seed, shots[0])
    session = support_session(subject, seed, config, order, clip_seconds, DEFAULT_START)
    segs = session.script.segments
    ends = {k: segs[NUM_CLASSES * k - 1].end for k in shots}
    cut = {k: int(np.searchsorted(session.rel_times, ends[k])) for k in shots}
    store = typestore('humble')
    factory = MessageFactory(store)
    writers, conns = {}, {}
    try:
        for k in shots:
            path = out / f'support_k{k}'
            shutil.rmtree(path, ignore_errors=True)
            writers[k] = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
            writers[k].open()
            conns[k] = writers[k].add_connection(
                IMAGE_TOPIC, IMAGE_TYPE, typestore=store, offered_qos_profiles=[reliable_qos(10)]
            )
        for i in range(cut[shots[0]]):
            frame = session.render(i)
            data = store.serialize_cdr(factory.compressed(frame.time, frame.image), IMAGE_TYPE)
            ns = round(float(frame.time) * 1e9)
            for k in shots:
                if i < cut[k]:
                    writers[k].write(conns[k], ns, data)
    finally:
        for w in writers.values():
            w.close()
    bags = []
    for k, level in sorted(set(variants), key=lambda v: (-v[0], v[1])):
        spans = [(s.start, s.end) for s in segs[: NUM_CLASSES * k]]
        truth = [s.class_id for s in segs[: NUM_CLASSES * k]]
        path, given = out / f'support_k{k}', truth
        if level > 0:
            path = out / f'support_k{k}_noise{round(100 * level)}'
            _link_bag(out / f'support_k{k}', path)
            given = noisy_labels(truth, level, np.random.default_rng([seed, k, *tag]))
        _write_sidecar(path, spans, given)
        bags.append(SupportBag(path, k, level, truth, given, float(ends[k])))
    return bags
