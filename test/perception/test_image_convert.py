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
"""Image conversion against the real ROS 2 message definitions (rosbags type store, CDR)."""

from __future__ import annotations

import cv2
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from st_f2m_ros.errors import PerceptionError
from st_f2m_ros.interfaces import typestore
from st_f2m_ros.perception.image_convert import (
    ImageLimits,
    bgr_to_compressed,
    bgr_to_image,
    compressed_to_bgr,
    image_to_bgr,
    msg_to_bgr,
    supported_encodings,
)

TS = typestore('humble')
IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
GREY = {'mono8', '8UC1', 'mono16', '16UC1'}
YUV = {'uyvy', 'yuv422', 'yuyv', 'yuv422_yuy2'}
BAYER = {e for e in supported_encodings() if e.startswith('bayer_')}


def _header():
    h = TS.types['std_msgs/msg/Header']
    t = TS.types['builtin_interfaces/msg/Time']
    return h(stamp=t(sec=12, nanosec=500), frame_id='camera')


def _cdr_image(fields) -> object:
    """Build a real sensor_msgs/Image, serialise it to CDR and read it back."""
    msg = TS.types[IMAGE](
        header=_header(),
        height=fields.height,
        width=fields.width,
        encoding=fields.encoding,
        is_bigendian=int(fields.is_bigendian),
        step=fields.step,
        data=fields.data,
    )
    return TS.deserialize_cdr(TS.serialize_cdr(msg, IMAGE), IMAGE)


def _expected(bgr: np.ndarray, encoding: str) -> np.ndarray:
    if encoding in GREY:
        import cv2

        g = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        return np.repeat(g[:, :, None], 3, axis=2)
    return bgr


images = st.tuples(st.integers(1, 12), st.integers(1, 8)).flatmap(
    lambda hw: st.binary(min_size=hw[0] * hw[1] * 3, max_size=hw[0] * hw[1] * 3).map(
        lambda b: np.frombuffer(b, np.uint8).reshape(hw[0], hw[1], 3).copy()
    )
)


@pytest.mark.parametrize('encoding', sorted(set(supported_encodings()) - YUV - BAYER))
@settings(max_examples=25, deadline=None)
@given(bgr=images, pad=st.integers(0, 7), big=st.booleans())
def test_lossless_round_trip_through_cdr(encoding, bgr, pad, big):
    packed = bgr_to_image(bgr, encoding, is_bigendian=big)
    fields = bgr_to_image(bgr, encoding, step=packed.step + pad, is_bigendian=big)
    msg = _cdr_image(fields)
    out = msg_to_bgr(msg)
    assert out.dtype == np.uint8 and out.shape == bgr.shape
    np.testing.assert_array_equal(out, _expected(bgr, encoding))


@pytest.mark.parametrize('encoding', sorted(YUV))
@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 10), half_w=st.integers(1, 6), pad=st.integers(0, 9), seed=st.integers(0, 999)
)
def test_yuv422_round_trip_is_close(encoding, h, half_w, pad, seed):
    rng = np.random.default_rng(seed)
    # Pixel pairs share chroma in 4:2:2, so build pairs of equal colour and avoid the gamut
    # edges where YUV rounding clips.
    pairs = rng.integers(40, 216, size=(h, half_w, 1, 3), dtype=np.uint8)
    bgr = np.repeat(pairs, 2, axis=2).reshape(h, half_w * 2, 3)
    fields = bgr_to_image(bgr, encoding, step=half_w * 4 + pad * 2)
    out = msg_to_bgr(_cdr_image(fields))
    assert out.shape == bgr.shape
    assert np.abs(out.astype(int) - bgr.astype(int)).max() <= 4


@pytest.mark.parametrize('encoding', sorted(BAYER))
@settings(max_examples=15, deadline=None)
@given(
    h=st.integers(2, 8), w=st.integers(2, 8), pad=st.integers(0, 5),
    colour=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)  # fmt: skip
def test_bayer_mosaic_of_a_flat_colour_demosaics_back(encoding, h, w, pad, colour):
    bgr = np.empty((2 * h, 2 * w, 3), np.uint8)
    bgr[:] = colour
    packed = bgr_to_image(bgr, encoding)
    fields = bgr_to_image(bgr, encoding, step=packed.step + pad * packed.step // packed.width)
    out = msg_to_bgr(_cdr_image(fields))
    # Away from the border a flat colour is recovered exactly; a wrong pattern would swap R, B.
    np.testing.assert_array_equal(out[1:-1, 1:-1], bgr[1:-1, 1:-1])


def test_sixteen_bit_takes_the_high_byte_and_respects_endianness():
    value = np.array([0x12, 0x34], np.uint8)  # 0x1234 big-endian, 0x3412 little-endian
    assert image_to_bgr('mono16', 1, 1, 2, True, value)[0, 0, 0] == 0x12
    assert image_to_bgr('mono16', 1, 1, 2, False, value)[0, 0, 0] == 0x34


def test_channel_order_is_respected():
    # One red pixel in rgb8 must come out as BGR (0, 0, 255).
    assert image_to_bgr('rgb8', 1, 1, 3, 0, bytes([255, 0, 0]))[0, 0].tolist() == [0, 0, 255]
    assert image_to_bgr('bgra8', 1, 1, 4, 0, bytes([1, 2, 3, 4]))[0, 0].tolist() == [1, 2, 3]
    assert image_to_bgr('rgba8', 1, 1, 4, 0, bytes([1, 2, 3, 4]))[0, 0].tolist() == [3, 2, 1]


def test_accepts_every_buffer_type():
    import array

    raw = bytes(range(12))
    for data in (raw, bytearray(raw), array.array('B', raw), memoryview(raw), list(raw)):
        out = image_to_bgr('bgr8', 2, 2, 6, 0, data)
        assert out.reshape(-1).tolist() == list(range(12))


@pytest.mark.parametrize(
    ('args', 'match'),
    [
        (('bayer_xyz8', 2, 2, 6, 0, bytes(12)), 'unsupported image encoding'),
        (('bgr8', 2, 2, 5, 0, bytes(10)), 'smaller than a packed row'),
        (('bgr8', 2, 2, 6, 0, bytes(11)), 'truncated'),
        (('bgr8', 2, 2, 6, 0, bytes(13)), 'header is wrong'),
        (('bgr8', 0, 2, 6, 0, b''), 'empty image'),
        (('bgr8', 100_000, 2, 6, 0, b''), 'exceeds the limit'),
        (('uyvy', 1, 3, 6, 0, bytes(6)), 'even width'),
        (('bgr8', 1, 1, 3, 0, np.zeros(3, np.float32)), 'uint8'),
    ],
)
def test_bad_images_are_rejected_with_a_reason(args, match):
    with pytest.raises(PerceptionError, match=match):
        image_to_bgr(*args)


def test_custom_limits():
    with pytest.raises(PerceptionError, match='exceeds'):
        image_to_bgr('mono8', 4, 4, 4, 0, bytes(16), limits=ImageLimits(max_side=3))


@pytest.mark.parametrize('fmt', ['jpeg', 'png'])
def test_compressed_round_trip_through_cdr(fmt):
    rng = np.random.default_rng(0)
    bgr = np.clip(rng.normal(128, 10, (48, 64, 3)), 0, 255).astype(np.uint8)
    form, data = bgr_to_compressed(bgr, fmt, quality=95)
    msg = TS.types[COMPRESSED](header=_header(), format=form, data=data)
    back = TS.deserialize_cdr(TS.serialize_cdr(msg, COMPRESSED), COMPRESSED)
    out = msg_to_bgr(back)
    assert out.shape == bgr.shape
    tol = 0 if fmt == 'png' else 12
    assert np.abs(out.astype(int) - bgr.astype(int)).mean() <= tol


def test_compressed_garbage_and_depth_are_rejected():
    with pytest.raises(PerceptionError, match='cannot decode'):
        compressed_to_bgr('jpeg', b'not an image at all')
    with pytest.raises(PerceptionError, match='empty'):
        compressed_to_bgr('jpeg', b'')
    with pytest.raises(PerceptionError, match='depth'):
        compressed_to_bgr('16UC1; compressedDepth', b'\x00' * 20)


def test_compressed_png_size_checked_before_decoding():
    _, data = bgr_to_compressed(np.zeros((20, 30, 3), np.uint8), 'png')
    with pytest.raises(PerceptionError, match='exceeds'):
        compressed_to_bgr('png', data, limits=ImageLimits(max_side=10))


def test_compressed_size_is_read_from_the_header_before_decoding() -> None:
    """JPEG SOF (baseline, progressive, after an EXIF segment) and PNG IHDR; bombs refused."""
    import struct
    import time

    from st_f2m_ros.perception.image_convert import (
        DEFAULT_LIMITS,
        ImageError,
        ImageLimits,
        compressed_to_bgr,
        peek_size,
    )

    img = np.zeros((48, 64, 3), np.uint8)
    _, base = cv2.imencode('.jpg', img)
    _, prog = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    _, png = cv2.imencode('.png', img)
    assert peek_size(base.reshape(-1)) == (48, 64)
    assert peek_size(prog.reshape(-1)) == (48, 64)  # SOF2
    assert peek_size(png.reshape(-1)) == (48, 64)
    raw = base.tobytes()
    exif = b'\xff\xe1' + struct.pack('>H', 2 + 5000) + bytes(5000)  # a big APP1 before SOF
    assert peek_size(np.frombuffer(raw[:2] + exif + raw[2:], np.uint8)) == (48, 64)
    assert peek_size(np.frombuffer(b'\xff\xd8garbage', np.uint8)) is None
    bomb = bytearray(raw)
    i = bomb.find(b'\xff\xc0')
    bomb[i + 5 : i + 9] = struct.pack('>HH', 20000, 20000)
    t0 = time.perf_counter()
    with pytest.raises(ImageError) as err:
        compressed_to_bgr('jpeg', bytes(bomb))
    assert err.value.cause == 'size' and time.perf_counter() - t0 < 0.05
    small = ImageLimits(max_compressed_bytes=100)
    with pytest.raises(ImageError, match='exceeds the limit') as err:
        compressed_to_bgr('jpeg', raw, small)
    assert err.value.cause == 'size'
    assert compressed_to_bgr('jpeg', raw, DEFAULT_LIMITS).shape == (48, 64, 3)
