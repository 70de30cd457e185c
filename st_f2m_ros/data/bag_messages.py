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
"""The messages of a synthetic bag, built from a rosbags type store (no ROS 2 needed).

`MessageFactory` makes camera frames (raw or JPEG), transcripts and ground-truth
EmotionSequence messages with ROS 2 field names; `reliable_qos` is the QoS profile the writer
offers on every topic. `data.bag_writer` puts them into a bag in time order.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from st_f2m_ros.data.synthetic.expression import INTENSITY_LEVEL
from st_f2m_ros.errors import DataError
from st_f2m_ros.perception.image_convert import ImageError, bgr_to_compressed
from st_f2m_ros.taxonomy import CLASS_LABELS, NUM_CLASSES, decode_class

GT_MODEL_ID = 'ground_truth'


def reliable_qos(depth: int) -> Any:
    """RELIABLE, VOLATILE, KEEP_LAST(depth) with the rmw defaults for the durations."""
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    zero = QosTime(0, 0)  # RMW_DURATION_UNSPECIFIED: the rmw default (no deadline/lifespan)
    return Qos(
        QosHistory.KEEP_LAST,
        depth,
        QosReliability.RELIABLE,
        QosDurability.VOLATILE,
        zero,
        zero,
        QosLiveliness.AUTOMATIC,
        zero,
        False,
    )


class MessageFactory:
    """Builds the bag's messages from a rosbags type store (field names as in ROS 2)."""

    def __init__(self, store: Any, frame_id: str = 'camera') -> None:
        self.store = store
        self.t = store.types
        self.frame_id = frame_id

    def time(self, seconds: float) -> Any:
        ns = round(float(seconds) * 1e9)
        return self.t['builtin_interfaces/msg/Time'](
            sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000
        )

    def header(self, seconds: float) -> Any:
        return self.t['std_msgs/msg/Header'](stamp=self.time(seconds), frame_id=self.frame_id)

    def image(self, seconds: float, bgr: np.ndarray, encoding: str) -> Any:
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if encoding == 'rgb8' else bgr
        h, w = img.shape[:2]
        return self.t['sensor_msgs/msg/Image'](
            header=self.header(seconds),
            height=h,
            width=w,
            encoding=encoding,
            is_bigendian=0,
            step=w * 3,
            data=np.ascontiguousarray(img).reshape(-1),
        )

    def compressed(self, seconds: float, bgr: np.ndarray, quality: int = 90) -> Any:
        try:
            _, buf = bgr_to_compressed(bgr, 'jpeg', quality)  # the one JPEG encoder
        except ImageError as err:
            raise DataError(f'could not JPEG-encode a frame: {err}') from err
        # image_transport's compressed format string: "<raw encoding>; jpeg compressed <enc>".
        return self.t['sensor_msgs/msg/CompressedImage'](
            header=self.header(seconds),
            format='bgr8; jpeg compressed bgr8',
            data=buf.reshape(-1).astype(np.uint8),
        )

    def string(self, text: str) -> Any:
        return self.t['std_msgs/msg/String'](data=text)

    def transcript(self, start: float, end: float, text: str, speaker: str) -> Any:
        return self.t['st_f2m_ros/msg/Transcript'](
            header=self.header(end),
            text=text,
            speaker_id=speaker,
            confidence=-1.0,
            start=self.time(start),
            end=self.time(end),
            is_final=True,
        )

    def state(
        self, start: float, end: float, cid: int, components: np.ndarray, modalities: int
    ) -> Any:
        fc = decode_class(cid)
        probs = np.zeros(NUM_CLASSES, dtype=np.float32)
        probs[cid] = 1.0
        return self.t['st_f2m_ros/msg/EmotionState'](
            start=self.time(start),
            end=self.time(end),
            emotion=fc.emotion_id,
            emotion_label=fc.emotion,
            intensity=fc.intensity_id,
            intensity_value=float(INTENSITY_LEVEL.get(fc.intensity, 0.0)),
            class_id=cid,
            class_label=fc.label,
            confidence=1.0,
            class_probabilities=probs,
            components=np.asarray(components, dtype=np.float32),
            # ground truth: the generator's own components, all known
            component_reliable=np.ones(len(components), dtype=bool),
            components_measured=True,
            modalities=modalities,
            status=0,
        )

    def sequence(self, stamp: float, subject: str, states: list[Any], hop: float) -> Any:
        return self.t['st_f2m_ros/msg/EmotionSequence'](
            header=self.header(stamp),
            subject_id=subject,
            model_id=GT_MODEL_ID,
            class_labels=list(CLASS_LABELS),
            states=states,
            window_size=0.0,
            window_hop=hop,
            processing_latency=0.0,
        )
