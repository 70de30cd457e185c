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
"""The perception node: camera + speech in, /emotion/sequence out, /adapt and /reset_adaptation.

A thin shell over `runtime.session` (pipeline, recognizer, adaptation manager). Callback groups:
camera and speech share one mutually exclusive group (the pipeline is sequential), the services
a reentrant one (an adaptation never blocks frames or /reset_adaptation; the inner loop runs on
the manager's worker thread; a second /adapt is answered by the manager), diagnostics a third;
a MultiThreadedExecutor runs them in parallel. Node state that several groups touch (the
subject, `values`) changes only under `self._lock`, in `switch_subject` and the parameter
callback.

Topics (remap in the launch file): `image` (sensor_msgs/Image, sensor-data QoS) or
`image/compressed`, `transcript`; outputs `emotion/sequence`, `emotion/debug_image`,
`/diagnostics` (reliable).
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
import threading
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from st_f2m_ros.errors import StF2MError
from st_f2m_ros.ros import params as P
from st_f2m_ros.ros.hri import HriBridge
from st_f2m_ros.ros.kit import rclpy_kit
from st_f2m_ros.ros.process import STOP, run_node, start_or_destroy
from st_f2m_ros.ros.qos import RELIABLE, SENSOR
from st_f2m_ros.runtime.adaptation.manager import request_from_msg
from st_f2m_ros.runtime.inference.cpu import prefer_passive_threads
from st_f2m_ros.runtime.messages import convert as conv
from st_f2m_ros.runtime.messages import inputs
from st_f2m_ros.runtime.messages.debug_draw import draw_debug
from st_f2m_ros.runtime.pipeline.stats import OncePerCause
from st_f2m_ros.runtime.session import LIVE_SESSION, apply_live_params, build_session
from st_f2m_ros.runtime.subjects import subject_id_problem

# Seconds `close` gives a running adaptation to stop (the manager cancels it between steps);
# with the executor's shutdown it stays under ros2 launch's 5 s before SIGTERM.
CLOSE_TIMEOUT = 3.0


class PerceptionNode(Node):
    """ST-F2M perception: EmotionSequence publisher, adaptation services, diagnostics."""

    def __init__(self) -> None:
        super().__init__('st_f2m_perception')
        self.session: Any = None
        self._closing = threading.Event()
        start_or_destroy(self, self._start)

    def _start(self) -> None:
        """Parameters, session (model, warm-up), then topics, services and the timer."""
        # What rclpy declared itself (use_sim_time; start_type_description_service on Jazzy+).
        self._rclpy_params = frozenset(self.get_parameters_by_prefix(''))
        for spec in P.PERCEPTION_PARAMS:
            self.declare_parameter(spec.name, spec.default, P.descriptor(spec))
        self.values = {s.name: self.get_parameter(s.name).value for s in P.PERCEPTION_PARAMS}
        reason = P.validate_changes(self.values, self.values, started=False)
        if reason:
            raise StF2MError(f'invalid parameter: {reason} (see config/perception.yaml)')
        self._lock = threading.RLock()  # subject, values, HRI face id
        self._echo = threading.local()  # set while the node writes its own subject_id
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.kit = rclpy_kit()
        self.subject = self.values['subject_id']
        self._fallback_subject = self.subject  # configured / adapted; ROS4HRI falls back to it
        STOP.check()  # Ctrl-C during start-up: skip the slow steps (no-op in-process)
        self.session = build_session(self.values, self.subject)
        STOP.check()
        self.session.pipeline.log_skips = False  # _on_timer logs them through rclpy
        self._once = OncePerCause(period=60.0)  # bad input: one log line per cause a minute
        self._skipped: dict[str, int] = {}
        self.get_logger().info(self.session.manager.activate(self.subject))
        # Load the sentence encoder and kernels now, not inside the first frame's callback.
        self.get_logger().info(f'warm-up took {self.session.pipeline.warm_up():.2f} s')
        STOP.check()

        io = MutuallyExclusiveCallbackGroup()
        services = ReentrantCallbackGroup()
        timers = MutuallyExclusiveCallbackGroup()
        self.seq_pub = self.create_publisher(
            self._msg('EmotionSequence'), 'emotion/sequence', RELIABLE
        )
        self.diag_pub = self.create_publisher(self.kit.DiagnosticArray, '/diagnostics', RELIABLE)
        self.debug_pub = self.create_publisher(self.kit.Image, 'emotion/debug_image', RELIABLE)
        if self.values['use_compressed']:
            from sensor_msgs.msg import CompressedImage

            self.create_subscription(
                CompressedImage, 'image/compressed', self._on_compressed, SENSOR, callback_group=io
            )
        else:
            from sensor_msgs.msg import Image

            self.create_subscription(Image, 'image', self._on_image, SENSOR, callback_group=io)
        self.hri = None
        if self.values['hri_enabled']:
            self.hri = HriBridge.create(self, self.kit, self._face_id(), io)
            if self.hri is not None:
                self.hri.follow_persons(
                    lambda: self._fallback_subject,
                    lambda s: self.switch_subject(s, origin='hri'),
                )
        self._subscribe_transcripts(io)
        from st_f2m_ros.srv import Adapt, ResetAdaptation

        self.create_service(Adapt, 'adapt', self._on_adapt, callback_group=services)
        self.create_service(
            ResetAdaptation, 'reset_adaptation', self._on_reset, callback_group=services
        )
        self.create_timer(self.values['diagnostics_period'], self._on_timer, callback_group=timers)
        self.get_logger().info(f'ready: model {self.session.recognizer.model_id}')

    # ------------------------------------------------------------------ helpers

    def _msg(self, name: str) -> Any:
        return getattr(self.kit, name)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _face_id(self) -> str:
        return self.values['hri_face_id'] or self.subject

    def switch_subject(self, subject: str, origin: str = 'parameter') -> str:
        """The one way the subject changes: `origin` is 'parameter', 'adapt' or 'hri'.

        Under the node lock: the pipeline labels results with `subject`, the manager makes
        that person's newest stored adaptation (or the base head) live, so another person's
        head never keeps serving, the ROS4HRI face follows, and the `subject_id` parameter
        is rewritten so that `ros2 param get` tells the truth ('parameter': rclpy stores it
        after the callback). After a successful /adapt the manager has already made the new
        head live; it is kept when it is that subject's. Returns a log line ('' = no change).
        """
        problem = subject_id_problem(subject)
        if problem:
            raise StF2MError(problem)
        with self._lock:
            live = self.session.recognizer.state.subject
            if subject == self.subject and live in (subject, ''):
                return ''
            self.subject = subject
            self.session.pipeline.set_subject(subject)
            if origin == 'adapt' and live == subject:
                report = f'subject {subject}: adapted head live'
            else:
                report = self.session.manager.activate(subject)
            if origin != 'hri':
                self._fallback_subject = subject
            if self.hri is not None:
                self.hri.set_face_id(self._face_id())
            if origin != 'parameter' and self.values['subject_id'] != subject:
                self._set_own_parameter('subject_id', subject)
        return f'subject {subject} ({origin}): {report}'

    def _set_own_parameter(self, name: str, value: Any) -> None:
        """set_parameters from the node's own thread: the callback sees `_echo.active`."""
        self._echo.active = True
        try:
            result = self.set_parameters([Parameter(name, value=value)])[0]
        finally:
            self._echo.active = False
        if not result.successful:
            self.get_logger().error(f'could not update parameter {name}: {result.reason}')

    def _subscribe_transcripts(self, group: Any) -> None:
        kind = self.values['transcript_type']
        if kind == 'string':
            from std_msgs.msg import String

            self.create_subscription(
                String, 'transcript', self._on_string, RELIABLE, callback_group=group
            )
        elif kind == 'transcript':
            from st_f2m_ros.msg import Transcript

            self.create_subscription(
                Transcript, 'transcript', self._on_transcript, RELIABLE, callback_group=group
            )
        elif kind == 'live_speech':
            if self.hri is None:
                self.get_logger().error(
                    'transcript_type live_speech needs hri_msgs and hri_enabled; speech is ignored'
                )
            else:
                self.hri.follow_voices(self._feed_transcript, self.session.pipeline.input_time)

    # ------------------------------------------------------------------ callbacks

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in params if p.name not in self._rclpy_params}
        with self._lock:
            if getattr(self._echo, 'active', False):  # switch_subject writing subject_id
                self.values = {**self.values, **changes}
                return SetParametersResult(successful=True)
            reason = P.validate_changes(changes, self.values, rclpy_params=self._rclpy_params)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            try:
                apply_live_params(self.session, changes)
            except StF2MError as err:
                return SetParametersResult(successful=False, reason=str(err))
            self.values = {**self.values, **changes}
            if 'hri_face_id' in changes and self.hri is not None:
                self.hri.set_face_id(self._face_id())
            report = ''
            if 'subject_id' in changes:
                report = self.switch_subject(changes['subject_id'], origin='parameter')
        if report:
            self.get_logger().info(report)
        live = sorted(set(changes) & set(LIVE_SESSION))
        if live:
            self.get_logger().info(f'applied at run time: {", ".join(live)}')
        return SetParametersResult(successful=True)

    def _on_image(self, msg: Any) -> None:
        out = self.session.pipeline.process_image(
            conv.stamp_to_seconds(msg.header.stamp), msg.encoding, msg.height, msg.width,
            msg.step, msg.is_bigendian, msg.data, frame_id=msg.header.frame_id,
            keep_image=self.values['publish_debug_image'], arrival=self._now(),
        )  # fmt: skip
        self._after_frame(out)

    def _on_compressed(self, msg: Any) -> None:
        out = self.session.pipeline.process_compressed(
            conv.stamp_to_seconds(msg.header.stamp), msg.format, msg.data,
            frame_id=msg.header.frame_id, keep_image=self.values['publish_debug_image'],
            arrival=self._now(),
        )  # fmt: skip
        self._after_frame(out)

    def _after_frame(self, out: Any) -> None:
        """Publish what one frame produced (a FrameOutcome: result, face box, decoded image)."""
        res = out.result
        if res is None:
            return
        self._publish(res)
        if out.image is not None:
            obs = out.observation
            box = obs.box if obs is not None else None
            front = getattr(obs, 'frontend', None)
            mesh = front.landmarks if front is not None else None
            img = draw_debug(out.image, box, res.current, self.session.manager.state, mesh)
            self.debug_pub.publish(conv.bgr_to_image_msg(self.kit, img, res.stamp, res.frame_id))

    def _publish(self, res: Any) -> None:
        """Publish a result as the pipeline made it (stamp, subject and frame ids included)."""
        self.seq_pub.publish(conv.sequence_to_msg(self.kit, res))
        if self.hri is not None:
            self.hri.publish_expression(res)

    def _on_string(self, msg: Any) -> None:
        # A bare String has no stamp: the arrival time mapped into the frames' clock.
        now = self._now()
        stamp = self.session.pipeline.input_time(now)
        self._feed_transcript(inputs.transcript_from_string(msg.data, stamp), now)

    def _on_transcript(self, msg: Any) -> None:
        rec = inputs.transcript_from_msg(msg)
        if rec.is_final:
            self._feed_transcript(rec)

    def _feed_transcript(self, rec: inputs.TranscriptRecord, arrival: float | None = None) -> None:
        arrival = self._now() if arrival is None else arrival
        self.session.pipeline.on_transcript(rec.stamp, rec.text, rec.start, rec.end, arrival)

    def _on_adapt(self, request: Any, response: Any) -> Any:
        try:
            req = request_from_msg(request)
            problem = subject_id_problem(req.subject_id)
            if problem:
                raise StF2MError(problem)
        except StF2MError as err:
            response.success, response.message = False, str(err)
            response.model_id = self.session.recognizer.model_id
            self.get_logger().warning(f'/adapt refused: {err}')
            return response
        outcome = self._wait(self.session.manager.submit(req))
        if outcome is None:
            response.success = False
            response.message = 'node shutting down: adaptation cancelled, nothing changed'
            response.model_id = self.session.recognizer.model_id
            return response
        if outcome.success:
            # One log call per severity: rclpy refuses a call site used at two severities.
            self.get_logger().info(f'/adapt {req.subject_id}: {outcome.message}')
            report = self.switch_subject(req.subject_id, origin='adapt')
            if report:
                self.get_logger().info(report)
        else:
            self.get_logger().warning(f'/adapt {req.subject_id} failed: {outcome.message}')
        return conv.adapt_response(self.kit, outcome)

    def _wait(self, future: Future) -> Any:
        """The outcome of a submitted adaptation, or None when the node closes first."""
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                if self._closing.is_set():
                    return None

    def _on_reset(self, request: Any, response: Any) -> Any:
        subject = request.subject_id or self.subject
        problem = subject_id_problem(subject)
        if problem:
            self.get_logger().warning(f'/reset_adaptation refused: {problem}')
            return conv.reset_response(self.kit, False, problem, self.session.recognizer.model_id)
        out = self.session.manager.reset(subject, request.delete_persisted)
        self.get_logger().info(f'/reset_adaptation {subject}: {out.message}')
        return conv.reset_response(self.kit, out.success, out.message, out.model_id)

    def _on_timer(self) -> None:
        """STALE after camera silence, one log line per new skip cause, /diagnostics."""
        now = self._now()
        pipeline = self.session.pipeline
        stale = pipeline.tick(now)
        if stale is not None:
            self._publish(stale)
        stats = pipeline.stats
        for cause, count in sorted(dict(stats.skipped).items()):
            if count > self._skipped.get(cause, 0) and self._once.should_log(cause, now):
                self.get_logger().warning(
                    f'input skipped ({cause}, {count} so far): {pipeline.errors.get(cause, "")}'
                )
            self._skipped[cause] = count
        reports = stats.reports(
            self.session.recognizer.model_id, self.session.manager.state, stale=pipeline.stale
        )
        self.diag_pub.publish(conv.diagnostics_to_msg(self.kit, now, reports))

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop the adaptation worker within `timeout` s; waiting /adapt calls are answered."""
        self._closing.set()
        if self.session is not None:
            self.session.close(timeout)


def main(args: list[str] | None = None) -> int:
    """Entry point of `ros2 run st_f2m_ros perception_node`; exits 0 on SIGINT/SIGTERM."""
    prefer_passive_threads()  # before the session imports torch
    return run_node(
        'perception_node',
        PerceptionNode,
        lambda: MultiThreadedExecutor(num_threads=5),
        args,
        close_timeout=CLOSE_TIMEOUT,
    )
