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
"""ROS image messages to BGR uint8 arrays and back, with numpy and OpenCV only.

cv_bridge is not used: it crashes under NumPy 2 and pulls ROS into the core. The functions take
the plain message fields (`encoding`, `height`, `width`, `step`, `is_bigendian`, `data`), so the
same code serves rclpy messages, rosbags messages and tests. Encodings follow
`sensor_msgs/image_encodings.hpp`: 8/16-bit RGB(A)/BGR(A)/mono, 8UC*/16UC*, packed 4:2:2
(yuv422 = UYVY, yuv422_yuy2 = YUYV) and 8/16-bit Bayer mosaics (demosaiced by OpenCV). 16-bit
images are reduced to 8 bits by dropping the low byte, and `8UC3` / `16UC3` are taken as BGR,
as cv_bridge does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from st_f2m_ros.errors import PerceptionError


class ImageError(PerceptionError):
    """A frame that cannot be converted; `cause` names the kind for diagnostics counters.

    Causes: 'encoding' (unsupported), 'size' (empty or over the limits), 'layout' (step, data
    length or width inconsistent with the encoding), 'decode' (compressed data unreadable).
    """

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class EncodingInfo:
    """Memory layout of one encoding: channels, bytes per channel, OpenCV conversion to BGR."""

    channels: int
    depth: int  # bytes per channel (1 or 2)
    to_bgr: int | None  # cv2.COLOR_* code from the native channel order, None = already BGR
    from_bgr: int | None  # cv2.COLOR_* code from BGR to the native order


_C = cv2
ENCODINGS: dict[str, EncodingInfo] = {
    'bgr8': EncodingInfo(3, 1, None, None),
    'rgb8': EncodingInfo(3, 1, _C.COLOR_RGB2BGR, _C.COLOR_BGR2RGB),
    'bgra8': EncodingInfo(4, 1, _C.COLOR_BGRA2BGR, _C.COLOR_BGR2BGRA),
    'rgba8': EncodingInfo(4, 1, _C.COLOR_RGBA2BGR, _C.COLOR_BGR2RGBA),
    'mono8': EncodingInfo(1, 1, _C.COLOR_GRAY2BGR, _C.COLOR_BGR2GRAY),
    '8UC1': EncodingInfo(1, 1, _C.COLOR_GRAY2BGR, _C.COLOR_BGR2GRAY),
    '8UC3': EncodingInfo(3, 1, None, None),
    '8UC4': EncodingInfo(4, 1, _C.COLOR_BGRA2BGR, _C.COLOR_BGR2BGRA),
    'bgr16': EncodingInfo(3, 2, None, None),
    'rgb16': EncodingInfo(3, 2, _C.COLOR_RGB2BGR, _C.COLOR_BGR2RGB),
    'bgra16': EncodingInfo(4, 2, _C.COLOR_BGRA2BGR, _C.COLOR_BGR2BGRA),
    'rgba16': EncodingInfo(4, 2, _C.COLOR_RGBA2BGR, _C.COLOR_BGR2RGBA),
    'mono16': EncodingInfo(1, 2, _C.COLOR_GRAY2BGR, _C.COLOR_BGR2GRAY),
    '16UC1': EncodingInfo(1, 2, _C.COLOR_GRAY2BGR, _C.COLOR_BGR2GRAY),
    '16UC3': EncodingInfo(3, 2, None, None),
    '16UC4': EncodingInfo(4, 2, _C.COLOR_BGRA2BGR, _C.COLOR_BGR2BGRA),
    # Packed 4:2:2, two bytes per pixel. ROS's 'yuv422' is UYVY; 'yuv422_yuy2' is YUYV.
    'uyvy': EncodingInfo(2, 1, _C.COLOR_YUV2BGR_UYVY, _C.COLOR_BGR2YUV_UYVY),
    'yuv422': EncodingInfo(2, 1, _C.COLOR_YUV2BGR_UYVY, _C.COLOR_BGR2YUV_UYVY),
    'yuyv': EncodingInfo(2, 1, _C.COLOR_YUV2BGR_YUYV, _C.COLOR_BGR2YUV_YUYV),
    'yuv422_yuy2': EncodingInfo(2, 1, _C.COLOR_YUV2BGR_YUYV, _C.COLOR_BGR2YUV_YUYV),
}
# Bayer mosaics: one channel, demosaiced by OpenCV. OpenCV names a pattern by the second row's
# first two pixels, so ROS 'bayer_rggb' is OpenCV's BayerBG (as in cv_bridge).
_BAYER_CV = {
    'rggb': _C.COLOR_BayerBG2BGR,
    'bggr': _C.COLOR_BayerRG2BGR,
    'gbrg': _C.COLOR_BayerGR2BGR,
    'grbg': _C.COLOR_BayerGB2BGR,
}
for _pattern, _code in _BAYER_CV.items():
    ENCODINGS[f'bayer_{_pattern}8'] = EncodingInfo(1, 1, _code, None)
    ENCODINGS[f'bayer_{_pattern}16'] = EncodingInfo(1, 2, _code, None)
_YUV422 = frozenset({'uyvy', 'yuv422', 'yuyv', 'yuv422_yuy2'})
# Position of B, G, R in a 2x2 Bayer tile (row, column), for writing mosaics.
_BAYER_TILE = {
    'rggb': {(0, 0): 2, (0, 1): 1, (1, 0): 1, (1, 1): 0},
    'bggr': {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 2},
    'gbrg': {(0, 0): 1, (0, 1): 0, (1, 0): 2, (1, 1): 1},
    'grbg': {(0, 0): 1, (0, 1): 2, (1, 0): 0, (1, 1): 1},
}


@dataclass(frozen=True)
class ImageLimits:
    """Bounds that protect the node from absurd messages (a corrupt header can claim 2^32 rows)."""

    max_side: int = 8192
    max_pixels: int = 40_000_000
    max_bytes: int = 256 << 20  # raw message data (a 40 Mpx rgba16 frame would be 320 MB)
    max_compressed_bytes: int = 32 << 20


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class ImageFields:
    """The fields of a `sensor_msgs/Image` other than the header."""

    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: bool
    data: np.ndarray  # uint8 [step * height]


def supported_encodings() -> tuple[str, ...]:
    """Return the raw encodings `image_to_bgr` accepts."""
    return tuple(ENCODINGS)


def _as_bytes(data: Any) -> np.ndarray:
    """View message data (bytes, bytearray, array.array, memoryview, list, ndarray) as uint8."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageError(
                'layout', f'image data must be uint8 bytes, got an array of {data.dtype}'
            )
        return data.reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError) as err:
            raise ImageError(
                'layout', f'image data is not a byte buffer ({type(data).__name__})'
            ) from err


def _check_size(height: int, width: int, limits: ImageLimits) -> None:
    if height <= 0 or width <= 0:
        raise ImageError('size', f'empty image ({width}x{height}); check the camera driver')
    if height > limits.max_side or width > limits.max_side or height * width > limits.max_pixels:
        raise ImageError(
            'size',
            f'image of {width}x{height} exceeds the limit ({limits.max_side} px per side, '
            f'{limits.max_pixels} pixels); lower the camera resolution or raise the limit',
        )


def image_to_bgr(
    encoding: str,
    height: int,
    width: int,
    step: int,
    is_bigendian: bool | int,
    data: Any,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Convert the fields of a `sensor_msgs/Image` to a uint8 [H, W, 3] BGR array.

    Row padding (`step` larger than the packed row) is skipped. Raises PerceptionError for an
    unsupported encoding, an empty or oversized image, or a step / data size that does not match
    the declared geometry.
    """
    info = ENCODINGS.get(encoding)
    if info is None:
        raise ImageError(
            'encoding',
            f'unsupported image encoding {encoding!r}; supported: {", ".join(ENCODINGS)} '
            '(or publish sensor_msgs/CompressedImage)',
        )
    height, width, step = int(height), int(width), int(step)
    _check_size(height, width, limits)
    if encoding in _YUV422 and width % 2:
        raise ImageError('layout', f'{encoding} needs an even width, got {width}')
    row = width * info.channels * info.depth
    if step < row:
        raise ImageError(
            'layout',
            f'step {step} is smaller than a packed row ({width} px x {info.channels * info.depth} '
            f'bytes = {row}) for {encoding}; the message header is inconsistent',
        )
    if step * height > limits.max_bytes:
        raise ImageError(
            'size', f'image of {step} x {height} bytes exceeds the limit of {limits.max_bytes}'
        )
    buf = _as_bytes(data)
    if buf.size != step * height:
        raise ImageError(
            'layout',
            f'image data has {buf.size} bytes but step x height = {step} x {height} = '
            f'{step * height}; the message is truncated or its header is wrong',
        )
    rows = buf.reshape(height, step)[:, :row]
    if info.depth == 2:
        dtype = np.dtype('>u2' if is_bigendian else '<u2')
        wide = np.ascontiguousarray(rows).view(dtype).reshape(height, width, info.channels)
        img = (wide >> 8).astype(np.uint8)  # keep the high byte: 16 -> 8 bits
    else:
        img = rows.reshape(height, width, info.channels)
    img = np.ascontiguousarray(img)
    if info.to_bgr is None:
        return img
    if info.channels == 1:
        img = img[:, :, 0]
    return cv2.cvtColor(img, info.to_bgr)


def bgr_to_image(
    bgr: np.ndarray,
    encoding: str = 'bgr8',
    step: int | None = None,
    is_bigendian: bool = False,
) -> ImageFields:
    """Encode a uint8 BGR image as `sensor_msgs/Image` fields (the inverse of `image_to_bgr`).

    `step` larger than the packed row adds zero padding at the end of each row (as some drivers
    do). 16-bit encodings scale 8-bit values by 257, so converting back is exact.
    """
    info = ENCODINGS.get(encoding)
    if info is None:
        raise ImageError(
            'encoding',
            f'unsupported image encoding {encoding!r}; supported: {", ".join(ENCODINGS)}',
        )
    bgr = validate_bgr(bgr)
    height, width = bgr.shape[:2]
    if encoding in _YUV422 and width % 2:
        raise ImageError('layout', f'{encoding} needs an even width, got {width}')
    if encoding.startswith('bayer_'):
        native = _mosaic(bgr, encoding[6:10])
    elif info.from_bgr is None:
        native = bgr
    else:
        native = cv2.cvtColor(bgr, info.from_bgr)
    native = native.reshape(height, width, info.channels)
    if info.depth == 2:
        dtype = np.dtype('>u2' if is_bigendian else '<u2')
        packed = (native.astype(np.uint16) * 257).astype(dtype).view(np.uint8)
    else:
        packed = native
    packed = np.ascontiguousarray(packed).reshape(height, -1)
    row = packed.shape[1]
    step = row if step is None else int(step)
    if step < row:
        raise ImageError('layout', f'step {step} is smaller than a packed row of {row} bytes')
    out = np.zeros((height, step), dtype=np.uint8)
    out[:, :row] = packed
    return ImageFields(encoding, height, width, step, bool(is_bigendian), out.reshape(-1))


def _mosaic(bgr: np.ndarray, pattern: str) -> np.ndarray:
    """Sample a BGR image into a one-channel Bayer mosaic of `pattern` (e.g. 'rggb')."""
    out = np.empty(bgr.shape[:2], dtype=np.uint8)
    for (r, c), ch in _BAYER_TILE[pattern].items():
        out[r::2, c::2] = bgr[r::2, c::2, ch]
    return out


def validate_bgr(image: Any) -> np.ndarray:
    """Return `image` as a contiguous uint8 [H, W, 3] array or raise PerceptionError."""
    if not isinstance(image, np.ndarray):
        raise ImageError('layout', f'expected a numpy BGR image, got {type(image).__name__}')
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(
            'layout', f'expected a uint8 [H, W, 3] BGR image, got {image.dtype} {image.shape}'
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError('size', 'empty image (0 rows or columns)')
    return np.ascontiguousarray(image)


def compressed_to_bgr(fmt: str, data: Any, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode a `sensor_msgs/CompressedImage` (jpeg or png) to uint8 BGR.

    `fmt` is the message's `format` field ("jpeg", "png", "bgr8; jpeg compressed bgr8", ...);
    OpenCV detects the codec from the bytes. Depth images (`compressedDepth`) are rejected.
    """
    if 'compresseddepth' in fmt.lower().replace(' ', ''):
        raise ImageError(
            'encoding', f'compressed depth images ({fmt!r}) carry no face; use a colour topic'
        )
    buf = _as_bytes(data)
    if buf.size == 0:
        raise ImageError('decode', 'empty CompressedImage data')
    if buf.size > limits.max_compressed_bytes:
        raise ImageError(
            'size',
            f'CompressedImage of {buf.size} bytes exceeds the limit of '
            f'{limits.max_compressed_bytes}',
        )
    head = peek_size(buf)  # before decoding: a tiny file can claim 20000 x 20000 pixels
    if head is not None:
        _check_size(head[0], head[1], limits)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(
            'decode',
            f'cannot decode CompressedImage of format {fmt!r} ({buf.size} bytes); '
            'only jpeg and png are supported',
        )
    _check_size(img.shape[0], img.shape[1], limits)
    return img


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG, DAC are not SOFs


def peek_size(buf: np.ndarray) -> tuple[int, int] | None:
    """(height, width) from a PNG IHDR or JPEG SOF header without decoding, else None."""
    head = bytes(buf[:24])
    if len(head) >= 24 and head[:8] == b'\x89PNG\r\n\x1a\n':
        return int.from_bytes(head[20:24], 'big'), int.from_bytes(head[16:20], 'big')
    if head[:2] != b'\xff\xd8':
        return None
    data = memoryview(buf)
    i, n = 2, buf.size
    while i + 4 <= n:  # walk the marker segments up to the frame header
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker in _JPEG_SOF:
            if i + 9 > n:
                return None
            seg = bytes(data[i + 5 : i + 9])
            return int.from_bytes(seg[:2], 'big'), int.from_bytes(seg[2:], 'big')
        if marker == 0xDA:  # start of scan before any frame header: not a valid JPEG
            return None
        i += 2 + int.from_bytes(bytes(data[i + 2 : i + 4]), 'big')
    return None


def bgr_to_compressed(
    bgr: np.ndarray, fmt: str = 'jpeg', quality: int = 90
) -> tuple[str, np.ndarray]:
    """Encode BGR as `sensor_msgs/CompressedImage` fields: returns (format, data)."""
    bgr = validate_bgr(bgr)
    if fmt == 'jpeg':
        ok, buf = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif fmt == 'png':
        ok, buf = cv2.imencode('.png', bgr)
    else:
        raise ImageError('encoding', f'unsupported compressed format {fmt!r}; use "jpeg" or "png"')
    if not ok:
        raise ImageError('decode', f'OpenCV could not encode the image as {fmt}')
    return fmt, buf.reshape(-1)


def msg_to_bgr(msg: Any, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Convert an Image or CompressedImage message object (rclpy or rosbags) to BGR."""
    if hasattr(msg, 'encoding'):
        return image_to_bgr(
            msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian, msg.data, limits
        )
    if hasattr(msg, 'format'):
        return compressed_to_bgr(msg.format, msg.data, limits)
    raise ImageError('layout', f'{type(msg).__name__} is neither an Image nor a CompressedImage')
