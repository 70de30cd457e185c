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
"""Head pose from the 468-point mesh, the frontal (pose-free) landmark frame, the aligned crop.

Pose is the similarity (scale, rotation, translation) that best maps rigid points of
MediaPipe's canonical face model onto the measured mesh (Umeyama's least squares). Rigid
means points that expressions hardly move: eye corners, nose bridge and tip, forehead, face
sides. The mesh's x, y are image pixels and its z a relative depth of the same scale, so
the fit is a weak-perspective 3-D alignment. Undoing it gives every landmark in canonical
face coordinates, where brow heights and lip gaps can be measured the same way for a tilted
or turned head. Canonical frame: x to the person's left, y up, z out of the face (cm-like
units; the eye-corner midpoints are `CANONICAL_IOD` apart).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np

# Rigid points of MediaPipe's canonical face model (modules/face_geometry/data, Apache-2.0):
# mesh index -> (x, y, z).
CANONICAL_RIGID: dict[int, tuple[float, float, float]] = {
    1: (0.000, -1.127, 7.476),  # nose tip
    4: (0.000, -0.463, 7.587),
    5: (0.000, 0.366, 7.243),
    6: (0.000, 2.473, 5.789),  # nose bridge
    9: (0.000, 4.886, 5.385),
    10: (0.000, 8.262, 4.482),  # forehead top
    33: (-4.446, 2.664, 3.173),  # right eye outer corner
    108: (-1.619, 6.599, 4.921),
    127: (-7.743, 2.365, -2.005),  # right face side
    133: (-1.856, 2.585, 3.758),  # right eye inner corner
    151: (0.000, 6.545, 5.027),  # forehead
    168: (0.000, 3.271, 5.236),  # between the eyes
    195: (0.000, 1.059, 6.775),
    197: (0.000, 1.728, 6.317),
    234: (-7.664, 0.673, -2.436),
    263: (4.446, 2.664, 3.173),  # left eye outer corner
    337: (1.619, 6.599, 4.921),
    356: (7.743, 2.365, -2.005),  # left face side
    362: (1.856, 2.585, 3.758),  # left eye inner corner
    454: (7.664, 0.673, -2.436),
}
RIGID_INDICES = np.array(sorted(CANONICAL_RIGID), dtype=np.int64)
# Canonical points in the image-aligned frame (y down, z away from the camera), the mesh's.
_TEMPLATE = np.array([CANONICAL_RIGID[int(i)] for i in RIGID_INDICES]) * np.array([1, -1, -1])
RIGHT_EYE = (33, 133)  # outer, inner corner (person's right)
LEFT_EYE = (263, 362)
CANONICAL_IOD = 2.0 * (4.446 + 1.856) / 2.0  # distance between the eye-corner midpoints


@dataclass(frozen=True)
class HeadPose:
    """Head orientation and the similarity that maps canonical face units to the image.

    Attributes:
        yaw: degrees, > 0 when the person turns to their left (image right, unmirrored).
        pitch: degrees, > 0 when the face points up.
        roll: degrees, > 0 when the eye line slopes down towards the image's right.
        scale: image pixels per canonical unit.
        rotation: [3, 3] canonical (image-aligned axes) -> camera rotation.
        translation: [3] in pixels.
        residual: RMS fit error of the rigid points, in canonical units (large: bad mesh).
    """

    yaw: float
    pitch: float
    roll: float
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    residual: float

    @property
    def iod_px(self) -> float:
        """Inter-ocular distance in pixels as if the face were frontal (pose-free face size)."""
        return self.scale * CANONICAL_IOD


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising |s R src + t - dst|^2 (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(dc.T @ sc / len(src))
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    r = (u * d) @ vt
    s = float((sig * d).sum() / (sc**2).sum() * len(src))
    return s, r, mu_d - s * r @ mu_s


def estimate_pose(landmarks: np.ndarray) -> HeadPose:
    """Head pose from mesh landmarks [468, 3] (image pixels, relative z)."""
    pts = np.asarray(landmarks, dtype=np.float64)[RIGID_INDICES, :3]
    s, r, t = _umeyama(_TEMPLATE, pts)
    fwd = r @ np.array([0.0, 0.0, -1.0])  # out of the face, towards the camera at rest
    yaw = math.degrees(math.atan2(fwd[0], -fwd[2]))
    pitch = math.degrees(math.atan2(-fwd[1], math.hypot(fwd[0], fwd[2])))
    ax = r @ np.array([1.0, 0.0, 0.0])
    roll = math.degrees(math.atan2(ax[1], ax[0]))
    fitted = s * _TEMPLATE @ r.T + t
    residual = float(np.sqrt(((fitted - pts) ** 2).sum(1).mean()) / max(s, 1e-9))
    return HeadPose(yaw, pitch, roll, s, r, t, residual)


def frontalize(landmarks: np.ndarray, pose: HeadPose) -> np.ndarray:
    """Landmarks [468, 3] in canonical face coordinates (x to the person's left, y up)."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :3]
    q = (p - pose.translation) @ pose.rotation / max(pose.scale, 1e-9)
    return (q * np.array([1.0, -1.0, -1.0])).astype(np.float32)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye centres in the image: the midpoints of each eye's two corners."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    return p[list(RIGHT_EYE)].mean(0), p[list(LEFT_EYE)].mean(0)


@dataclass(frozen=True)
class AlignConfig:
    """Aligned face crop geometry.

    Attributes:
        size: output side in pixels.
        iod_frac: inter-ocular distance as a fraction of the side (face width ~2.4 IODs).
        eye_y_frac: height of the eye line as a fraction of the side, from the top.
    """

    size: int = 96
    iod_frac: float = 0.36
    eye_y_frac: float = 0.36


def aligned_crop(
    bgr: np.ndarray, landmarks: np.ndarray, pose: HeadPose, config: AlignConfig | None = None
) -> np.ndarray:
    """A uint8 [S, S, 3] BGR crop with the eyes level and a fixed inter-ocular distance.

    The scale comes from the pose fit (`iod_px`), so a turned head is not zoomed in on; the
    eye midpoint sits at (S/2, eye_y_frac * S); outside the image is black (as `crop_face`).
    """
    cfg = config or AlignConfig()
    right, left = eye_centres(landmarks)
    d = left - right
    angle = math.atan2(d[1], d[0])
    k = pose.iod_px / (cfg.iod_frac * cfg.size)
    c, s = math.cos(angle) * k, math.sin(angle) * k
    a = np.array([[c, -s], [s, c]])
    centre = (right + left) / 2.0
    b = centre - a @ np.array([cfg.size / 2.0, cfg.eye_y_frac * cfg.size])
    m = np.concatenate([a, b[:, None]], axis=1)
    return cv2.warpAffine(
        bgr,
        m,
        (cfg.size, cfg.size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
