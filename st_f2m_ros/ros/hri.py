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
"""ROS4HRI (REP 155) interoperability of the perception node, used only where hri_msgs exists.

* publishes hri_msgs/Expression on /humans/faces/<face token>/expression (mapping in
  runtime.messages.hri; the token is `runtime.subjects.ros_name_token(face id)`, so ids such
  as `007` or `p-07` still give valid topic names);
* follows /humans/voices/tracked and takes final hri_msgs/LiveSpeech results of each voice
  (/humans/voices/<id>/speech) as transcripts;
* follows /humans/persons/tracked so that adaptations are keyed by the person id when exactly
  one person is tracked.
Without hri_msgs, `HriBridge.create` returns None and the node runs without it.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
from typing import Any

from rclpy.exceptions import InvalidTopicNameException
from rclpy.node import Node

from st_f2m_ros.ros.kit import hri_msgs_module
from st_f2m_ros.ros.qos import RELIABLE
from st_f2m_ros.runtime.messages.convert import MessageKit, expression_to_msg
from st_f2m_ros.runtime.messages.hri import expression_for, subject_from_tracked
from st_f2m_ros.runtime.messages.inputs import TranscriptRecord, transcript_from_live_speech
from st_f2m_ros.runtime.subjects import ros_name_token, subject_id_problem


def expression_topic(face_id: str) -> str:
    """The REP 155 expression topic of a face id (any valid subject id)."""
    return f'/humans/faces/{ros_name_token(face_id)}/expression'


class HriBridge:
    """Publishers and subscriptions of the REP 155 topics for one node."""

    def __init__(
        self, node: Node, kit: MessageKit, hri: Any, face_id: str, callback_group: Any
    ) -> None:
        self.node = node
        self.kit = kit
        self.hri = hri
        self.group = callback_group
        self.face_id = ''
        self._expr_pub: Any = None
        # The publisher is replaced from a parameter/subject callback while frames publish
        # from the io group: swap and publish under one lock.
        self._lock = threading.Lock()
        self._voices: dict[str, Any] = {}
        self.persons: list[str] = []
        self.set_face_id(face_id)

    @classmethod
    def create(
        cls, node: Node, kit: MessageKit, face_id: str, callback_group: Any
    ) -> HriBridge | None:
        """A bridge, or None (logged once) when hri_msgs is not installed."""
        hri = hri_msgs_module()
        if hri is None or kit.Expression is None:
            node.get_logger().info('hri_msgs not installed: ROS4HRI topics disabled')
            return None
        return cls(node, kit, hri, face_id, callback_group)

    def set_face_id(self, face_id: str) -> None:
        """(Re)create the expression publisher for another face id."""
        with self._lock:
            if face_id == self.face_id:
                return
            new = self.node.create_publisher(
                self.hri.Expression, expression_topic(face_id), RELIABLE
            )
            old, self._expr_pub, self.face_id = self._expr_pub, new, face_id
            if old is not None:
                self.node.destroy_publisher(old)

    def publish_expression(self, result: Any) -> None:
        """Publish the newest state of a sequence result; abstaining states publish nothing."""
        state = result.states[-1] if result.states else None
        if state is None:
            return
        expr = expression_for(
            state.class_id, state.intensity_value, state.confidence, state.status
        )
        if expr is None:
            return
        with self._lock:
            msg = expression_to_msg(self.kit, result.stamp, expr, self.face_id)
            self._expr_pub.publish(msg)

    def follow_voices(
        self,
        on_transcript: Callable[[TranscriptRecord], None],
        input_time: Callable[[float], float] = float,
    ) -> None:
        """Subscribe to each tracked voice's LiveSpeech (final results only).

        `input_time` maps node time into the frames' clock (the pipeline's input clock), used
        for a LiveSpeech whose header stamp is empty, as for a bare String transcript.
        """

        def on_speech(msg: Any) -> None:
            now = self.node.get_clock().now().nanoseconds * 1e-9
            rec = transcript_from_live_speech(msg, input_time(now))
            if rec is not None:
                on_transcript(rec)

        def on_tracked(msg: Any) -> None:
            ids = set(msg.ids)
            for gone in set(self._voices) - ids:
                self.node.destroy_subscription(self._voices.pop(gone))
            for new in ids - set(self._voices):
                try:  # a REP 155 voice id is a name token; anything else has no topic
                    self._voices[new] = self.node.create_subscription(
                        self.hri.LiveSpeech,
                        f'/humans/voices/{new}/speech',
                        on_speech,
                        RELIABLE,
                        callback_group=self.group,
                    )
                except InvalidTopicNameException:
                    self.node.get_logger().warning(
                        f'ignoring voice id {new!r}: not a valid ROS name token'
                    )

        self.node.create_subscription(
            self.hri.IdsList,
            '/humans/voices/tracked',
            on_tracked,
            RELIABLE,
            callback_group=self.group,
        )

    def follow_persons(
        self, fallback: Callable[[], str], on_subject: Callable[[str], None]
    ) -> None:
        """Key the subject by the tracked person id when exactly one person is tracked."""

        def on_tracked(msg: Any) -> None:
            self.persons = [p for p in msg.ids if subject_id_problem(p) is None]
            on_subject(subject_from_tracked(self.persons, fallback()))

        self.node.create_subscription(
            self.hri.IdsList,
            '/humans/persons/tracked',
            on_tracked,
            RELIABLE,
            callback_group=self.group,
        )
