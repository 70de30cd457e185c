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
"""Per-frame face quality and which of the twelve components can be trusted in this frame.

The 468-point mesh returns every point even when the face is tiny, turned away or covered
(under a surgical mask it draws a plausible mouth), so the front end must say which measured
components are real: a caller abstains or reports "mouth unreliable" instead of guessing. The
checks: face size, mesh face-presence, head pose (both sides for a large turn, the far side's
components for a moderate one) and occlusion of the nose and mouth. The mesh has no
per-region confidence, so occlusion is an image cue: the chroma (YCrCb Cr, Cb) of small disks
around skin points of the region is compared with the person's own skin on the forehead and
temples in the same frame (robust median / MAD z-score); a region where most pixels are not
skin-coloured (a blue, white, grey or black mask, a hand) is occluded. Lighting changes
chroma little, and the reference comes from the same face and frame. A skin-coloured cover
is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from st_f2m_ros.perception.face_components import ComponentSet
from st_f2m_ros.perception.face_geometry import HeadPose
from st_f2m_ros.taxonomy import NUM_COMPONENTS


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the per-frame checks.

    Attributes:
        min_face_px: smallest face (longer side of the landmark box) whose components count.
        min_presence: smallest mesh face-presence probability.
        max_yaw, max_pitch: beyond these (degrees) no component counts.
        side_yaw: beyond this yaw the components of the half turned away do not count.
        max_fit_residual: pose-fit RMS error (canonical units) above which the mesh is bad.
        occluded_fraction: a region is occluded when more of its pixels than this are not
            skin-coloured.
        skin_z: robust z-score (per chroma channel) beyond which a pixel is not skin.
        chroma_floor: smallest chroma spread assumed for the reference skin (8-bit levels).
        disk_iod: radius of the sampled disks as a fraction of the inter-ocular distance.
    """

    min_face_px: float = 64.0
    min_presence: float = 0.5
    max_yaw: float = 45.0
    max_pitch: float = 35.0
    side_yaw: float = 25.0
    max_fit_residual: float = 1.2
    occluded_fraction: float = 0.5
    skin_z: float = 3.5
    chroma_floor: float = 2.5
    disk_iod: float = 0.07


@dataclass(frozen=True)
class FaceQuality:
    """What was checked in one frame and the resulting per-component `reliable` mask.

    Attributes:
        face_size_px: longer side of the landmark box in pixels.
        yaw, pitch, roll: head pose in degrees (face_geometry.HeadPose conventions).
        presence: mesh face-presence probability.
        occlusion: region -> fraction of its sampled pixels that are not skin-coloured.
        reliable: bool [12] in Table II order.
        reasons: why components were dropped, e.g. ('mouth_occluded', 'yaw_left').
    """

    face_size_px: float
    yaw: float
    pitch: float
    roll: float
    presence: float
    occlusion: dict[str, float] = field(default_factory=dict)
    reliable: np.ndarray = field(default_factory=lambda: np.ones(NUM_COMPONENTS, bool))
    reasons: tuple[str, ...] = ()

    @property
    def occluded(self) -> tuple[str, ...]:
        """Regions judged occluded (their reason is '<region>_occluded')."""
        return tuple(r[: -len('_occluded')] for r in self.reasons if r.endswith('_occluded'))

    def unreliable(self, names: tuple[str, ...]) -> list[str]:
        """Names (from `names`, Table II order) of the components not to be trusted."""
        return [n for n, ok in zip(names, self.reliable) if not ok]


@lru_cache(maxsize=64)
def _disk_offsets(r: int) -> np.ndarray:
    """Integer (dx, dy) offsets [K, 2] of a disk of radius `r` pixels."""
    d = np.arange(-r, r + 1)
    dx, dy = np.meshgrid(d, d)
    keep = dx**2 + dy**2 <= r * r
    return np.stack([dx[keep], dy[keep]], axis=1)


def _chroma(bgr: np.ndarray, pts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(Cr, Cb) [K, 2] of the pixels in disks around `pts` (inside the image only)."""
    h, w = bgr.shape[:2]
    c = (np.round(pts).astype(np.int64)[:, None, :] + offsets[None]).reshape(-1, 2)
    c = c[(c[:, 0] >= 0) & (c[:, 0] < w) & (c[:, 1] >= 0) & (c[:, 1] < h)]
    px = bgr[c[:, 1], c[:, 0]].astype(np.float32)
    y = px @ np.array([0.114, 0.587, 0.299], np.float32)  # BT.601 luma, as cv2's YCrCb
    return np.stack([(px[:, 2] - y) * 0.713, (px[:, 0] - y) * 0.564], axis=1)


def occlusion_scores(
    bgr: np.ndarray, landmarks: np.ndarray, iod_px: float, cset: ComponentSet, cfg: QualityConfig
) -> dict[str, float]:
    """Fraction of non-skin pixels in each occlusion region of `cset` (the reference excluded)."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    offsets = _disk_offsets(max(1, round(cfg.disk_iod * iod_px)))
    regions = [k for k in cset.occlusion if k != 'reference']
    ref = _chroma(bgr, p[list(cset.occlusion['reference'])], offsets)
    if len(ref) < 8:
        return {k: 0.0 for k in regions}  # no reference skin in view: cannot judge
    med = np.median(ref, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(ref - med), axis=0), cfg.chroma_floor)
    out: dict[str, float] = {}
    for region in regions:
        px = _chroma(bgr, p[list(cset.occlusion[region])], offsets)
        if len(px) == 0:
            out[region] = 1.0  # outside the image: nothing of it is seen
            continue
        z = np.abs(px - med) / spread
        out[region] = float((z.max(axis=1) > cfg.skin_z).mean())
    return out


def assess_quality(
    bgr: np.ndarray,
    landmarks: np.ndarray,
    pose: HeadPose,
    presence: float,
    cset: ComponentSet,
    config: QualityConfig | None = None,
) -> FaceQuality:
    """Run every check on one frame's mesh and return the quality with its `reliable` mask."""
    cfg = config or QualityConfig()
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    size = float(max(np.ptp(p[:, 0]), np.ptp(p[:, 1])))
    reliable = np.ones(NUM_COMPONENTS, bool)
    reasons: list[str] = []

    def drop(reason: str, where: np.ndarray | None = None) -> None:
        reasons.append(reason)
        reliable[:] = False if where is None else reliable & ~where

    if size < cfg.min_face_px:
        drop('face_small')
    if presence < cfg.min_presence:
        drop('no_face')
    if abs(pose.yaw) > cfg.max_yaw:
        drop('yaw')
    if abs(pose.pitch) > cfg.max_pitch:
        drop('pitch')
    if pose.residual > cfg.max_fit_residual:
        drop('mesh_fit')
    sides = np.array([s.side for s in cset.specs])
    if pose.yaw > cfg.side_yaw:  # turned to the person's left: the left half faces away
        drop('yaw_left', sides == 'left')
    elif pose.yaw < -cfg.side_yaw:
        drop('yaw_right', sides == 'right')
    occ = occlusion_scores(bgr, landmarks, pose.iod_px, cset, cfg)
    regions = np.array([s.region for s in cset.specs])
    for region, frac in occ.items():
        if frac > cfg.occluded_fraction:
            drop(f'{region}_occluded', regions == region)
    return FaceQuality(
        size, pose.yaw, pose.pitch, pose.roll, presence, occ, reliable, tuple(reasons)
    )
