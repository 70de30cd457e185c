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
"""The annotated debug image (/emotion/debug_image): what a person watches in rqt or Foxglove.

Face box, current emotion and intensity, a confidence bar and the adaptation state, drawn
on a copy of the frame with OpenCV; with the real-face front end also its 468-point mesh as
dots (so an observer sees whether the landmarks sit on the face). Abstaining states are drawn
grey with their reason, so an observer can tell "neutral" from "no decision". Off by default
in the node: it costs time and the image shows the patient.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from st_f2m_ros.taxonomy import decode_class

STATUS_TEXT = {1: 'low confidence', 2: 'stale', 3: 'no face'}
# BGR colours per basic emotion (neutral grey-blue); abstain is grey.
EMOTION_COLOURS = {
    'neutral': (200, 160, 120),
    'happiness': (60, 200, 60),
    'anger': (40, 40, 230),
    'sadness': (200, 120, 40),
    'disgust': (40, 140, 120),
    'fear': (160, 60, 160),
    'surprise': (40, 200, 230),
}
GREY = (150, 150, 150)
MESH_COLOUR = (80, 255, 255)  # light yellow dots: visible on skin and on a mask


def label_of(state: Any) -> tuple[str, tuple[int, int, int]]:
    """Text and colour for a state (EmotionStateResult / record); abstain is grey."""
    if state is None:
        return 'waiting', GREY
    status = int(getattr(state, 'status', 0))
    if status != 0:
        return f'? ({STATUS_TEXT.get(status, "unknown")})', GREY
    fine = decode_class(int(state.class_id))
    text = fine.emotion if fine.intensity == 'none' else f'{fine.emotion} ({fine.intensity})'
    return text, EMOTION_COLOURS[fine.emotion]


def draw_debug(
    bgr: np.ndarray,
    box: tuple[float, float, float, float] | None,
    state: Any,
    adaptation: str,
    landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """Return an annotated copy of `bgr` (uint8 [H, W, 3]); the input is not modified.

    `landmarks`: the front end's mesh [N, 2+] in image pixels, drawn as dots.
    """
    out = np.ascontiguousarray(bgr).copy()
    h, w = out.shape[:2]
    text, colour = label_of(state)
    if landmarks is not None:
        pts = np.round(np.asarray(landmarks)[:, :2]).astype(np.int64)
        keep = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        out[pts[keep, 1], pts[keep, 0]] = MESH_COLOUR
    scale = max(0.4, min(1.0, w / 800.0))
    thick = 1 if w < 480 else 2
    if box is not None:
        x, y, bw, bh = (round(v) for v in box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), colour, thick)
        cv2.putText(
            out,
            text,
            (x, max(12, y - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            colour,
            thick,
            cv2.LINE_AA,
        )
    else:
        cv2.putText(
            out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA
        )
    # Confidence bar along the bottom: full width = 1.0.
    conf = float(getattr(state, 'confidence', 0.0)) if state is not None else 0.0
    bar_h = max(4, h // 40)
    cv2.rectangle(out, (0, h - bar_h), (w - 1, h - 1), (40, 40, 40), -1)
    cv2.rectangle(out, (0, h - bar_h), (round(conf * (w - 1)), h - 1), colour, -1)
    cv2.putText(
        out,
        adaptation,
        (8, h - bar_h - 6),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale * 0.8,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return out
