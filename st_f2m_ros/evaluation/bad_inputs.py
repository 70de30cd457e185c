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
"""The bad-input corpus: what a real robot's camera and speech topics can deliver, as data.

Each case is a list of input events (camera frames as `sensor_msgs` fields, transcripts,
pauses) with the named causes it must be counted under in /diagnostics (`skipped_<cause>`,
or a total such as `gaps_total`). The same cases run through the pipeline in a unit test
(test/runtime/test_bad_inputs.py), through the real node under rclpy (test/ros_live/
test_bad_input.py, the cases marked `live`) and in the soak benchmark. Stamps are offsets
from the runner's current time `t` unless `absolute`; `arrival` is the runner's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
import struct
from typing import Any

import numpy as np

from st_f2m_ros.perception.image_convert import bgr_to_compressed

_RNG = np.random.default_rng(7)
WILD = 1000.0  # offsets this far ahead are wild stamps, not time passing
W, H = 160, 120  # small frames: the corpus is about robustness, not resolution


@dataclass(frozen=True)
class Event:
    """One input. kind: 'image' | 'compressed' | 'string' | 'transcript' | 'pause'.

    For frames, `dt` is the stamp offset from the runner's time (or the stamp itself when
    `absolute`); for 'pause' it is seconds without input (live runs sleep, unit runs skip).
    """

    kind: str
    dt: float = 0.0
    absolute: bool = False
    encoding: str = 'bgr8'
    height: int = H
    width: int = W
    step: int = W * 3
    is_bigendian: int = 0
    data: bytes = b''
    fmt: str = 'jpeg'
    text: str = ''
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class Case:
    """A named bad input, the causes it is counted under, and whether the live test runs it."""

    name: str
    events: tuple[Event, ...]
    causes: tuple[str, ...]
    live: bool = False
    note: str = ''
    tags: tuple[str, ...] = field(default_factory=tuple)


def good_bgr(seed: int = 0) -> np.ndarray:
    """A small valid frame (noise with a grey band: no face needed for these cases)."""
    img = np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)
    img[H // 3 : H // 2] = 128
    return img


def raw(dt: float, img: np.ndarray | None = None, **kw: object) -> Event:
    """A bgr8 Image event of `img` (default: a good frame)."""
    img = good_bgr() if img is None else img
    h, w = img.shape[:2]
    fields = {'height': h, 'width': w, 'step': w * img.shape[2] * img.itemsize}
    fields.update(kw)  # type: ignore[arg-type]
    data = kw.get('data', img.tobytes())
    return Event('image', dt, data=data, **{k: v for k, v in fields.items() if k != 'data'})  # type: ignore[arg-type]


def jpeg(img: np.ndarray | None = None) -> bytes:
    """JPEG bytes of `img` through the package's one encoder (image_convert)."""
    return bgr_to_compressed(good_bgr() if img is None else img, 'jpeg')[1].tobytes()


def png(img: np.ndarray | None = None) -> bytes:
    return bgr_to_compressed(good_bgr() if img is None else img, 'png')[1].tobytes()


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header claims another size (a decompression bomb)."""
    b = bytearray(jpeg())
    i = b.find(b'\xff\xc0')
    b[i + 5 : i + 9] = struct.pack('>HH', height, width)
    return bytes(b)


def _png_claiming(width: int, height: int) -> bytes:
    b = bytearray(png())
    b[16:24] = struct.pack('>II', width, height)
    return bytes(b)


def _float_image(value: float, channels: int) -> bytes:
    return np.full((H, W, channels), value, dtype=np.float32).tobytes()


def comp(dt: float, data: bytes, fmt: str = 'jpeg', **kw: object) -> Event:
    return Event('compressed', dt, data=data, fmt=fmt, **kw)  # type: ignore[arg-type]


def text(dt: float, s: str, **kw: object) -> Event:
    return Event('string', dt, text=s, **kw)  # type: ignore[arg-type]


def _cases() -> Iterator[Case]:
    img = good_bgr()
    row = W * 3
    # -- encodings -------------------------------------------------------------------------
    yield Case('float 32FC1 with NaN', (raw(0.1, data=_float_image(np.nan, 1), encoding='32FC1',
               step=W * 4),), ('image_encoding',), live=True)  # fmt: skip
    yield Case('float 32FC3 with inf', (raw(0.1, data=_float_image(np.inf, 3), encoding='32FC3',
               step=W * 12),), ('image_encoding',), live=True)  # fmt: skip
    yield Case('float 64FC1', (raw(0.1, data=bytes(H * W * 8), encoding='64FC1', step=W * 8),),
               ('image_encoding',))  # fmt: skip
    yield Case('unknown bayer pattern', (raw(0.1, encoding='bayer_xyz8', step=W),),
               ('image_encoding',))  # fmt: skip
    yield Case('empty encoding', (raw(0.1, encoding=''),), ('image_encoding',), live=True)
    yield Case('"jpeg" as a raw encoding', (raw(0.1, encoding='jpeg'),), ('image_encoding',))
    yield Case('compressed depth', (comp(0.1, png(), fmt='16UC1; compressedDepth'),),
               ('image_encoding',))  # fmt: skip
    # -- sizes -----------------------------------------------------------------------------
    yield Case('zero by zero', (raw(0.1, data=b'', height=0, width=0, step=0),),
               ('image_size',), live=True)  # fmt: skip
    yield Case('zero width', (raw(0.1, data=b'', width=0, step=0),), ('image_size',))
    yield Case('one row of 100000 px', (raw(0.1, data=b'', height=1, width=100_000,
               step=300_000),), ('image_size',))  # fmt: skip
    yield Case('claims 9000x9000 with 12 bytes', (raw(0.1, data=bytes(12), height=9000,
               width=9000, step=27000),), ('image_size',), live=True)  # fmt: skip
    yield Case('JPEG bomb 20000x20000', (comp(0.1, _jpeg_claiming(20000, 20000)),),
               ('image_size',), live=True)  # fmt: skip
    yield Case('PNG bomb 30000x30000', (comp(0.1, _png_claiming(30000, 30000), fmt='png'),),
               ('image_size',))  # fmt: skip
    yield Case('33 MB compressed', (comp(0.1, bytes(33 << 20)),), ('image_size',))
    # -- steps and layout --------------------------------------------------------------------
    yield Case('step smaller than a row', (raw(0.1, step=row - 3, data=img.tobytes()[:(row - 3)
               * H]),), ('image_layout',), live=True)  # fmt: skip
    yield Case('step larger, data short', (raw(0.1, step=row + 64),), ('image_layout',))
    yield Case('odd width for yuv422', (raw(0.1, encoding='yuv422', width=W - 1,
               step=(W - 1) * 2, data=bytes((W - 1) * 2 * H)),), ('image_layout',))  # fmt: skip
    yield Case('data longer than step x height', (raw(0.1, data=img.tobytes() + bytes(99)),),
               ('image_layout',), live=True)  # fmt: skip
    yield Case('step zero', (raw(0.1, step=0),), ('image_layout',))
    yield Case('raw truncated by one byte', (raw(0.1, data=img.tobytes()[:-1]),),
               ('image_layout',), live=True)  # fmt: skip
    yield Case('raw data empty', (raw(0.1, data=b''),), ('image_layout',))
    yield Case('JPEG cut in half', (comp(0.1, jpeg()[: len(jpeg()) // 2]),), ('image_decode',),
               live=True)  # fmt: skip
    yield Case('JPEG header only', (comp(0.1, jpeg()[:100]),), ('image_decode',))
    yield Case('PNG cut in half', (comp(0.1, png()[: len(png()) // 2], fmt='png'),),
               ('image_decode',))  # fmt: skip
    yield Case('garbage as JPEG', (comp(0.1, bytes(_RNG.integers(0, 255, 5000, np.uint8))),),
               ('image_decode',), live=True)  # fmt: skip
    yield Case('empty compressed', (comp(0.1, b''),), ('image_decode',))
    # -- stamps ------------------------------------------------------------------------------
    yield Case('zero stamp', (Event('image', 0.0, absolute=True, data=img.tobytes()),),
               ('stamp_zero',), live=True)  # fmt: skip
    yield Case('negative stamp', (Event('image', -5.0, absolute=True, data=img.tobytes()),),
               ('stamp_negative',), live=True)  # fmt: skip
    yield Case('NaN stamp', (Event('image', float('nan'), absolute=True, data=img.tobytes()),),
               ('stamp_nonfinite',))  # fmt: skip
    yield Case('stamp beyond int32 seconds', (Event('image', 2.0**31 + 5, absolute=True,
               data=img.tobytes()),), ('stamp_out_of_range',))  # fmt: skip
    yield Case('one hour backwards', (raw(-3600.0),), ('stamp_backwards',), live=True)
    yield Case('far future', (raw(1e6),), ('stamp_jump',), live=True)
    yield Case('repeated stamp', (raw(0.1), raw(0.1)), ('stamp_repeated',), live=True)
    yield Case('burst of 100 frames 1 ms apart', tuple(raw(0.1 + i * 0.001) for i in range(100)),
               ('frame_burst',), live=True)  # fmt: skip
    # -- transcripts -------------------------------------------------------------------------
    yield Case('transcript flood', tuple(text(i * 0.02, f'word {i}') for i in range(60)),
               ('transcript_flood',), live=True)  # fmt: skip
    yield Case('1 MB transcript', (text(0.0, 'lorem ipsum ' * 90_000),),
               ('transcript_truncated',), live=True)  # fmt: skip
    yield Case('lone surrogates', (text(0.0, 'fine \ud800 then \udfff'),),
               ('transcript_sanitized',))  # fmt: skip
    yield Case('RTL override marks', (text(0.0, '\u202eمرحبا\u202c hello'),),
               ('transcript_sanitized',), live=True)  # fmt: skip
    yield Case('zero-width only', (text(0.0, '\u200b\u200c\u200d\ufeff'),),
               ('transcript_invalid',), live=True)  # fmt: skip
    yield Case('empty transcript', (text(0.0, ''),), ('transcript_invalid',), live=True)
    yield Case('NUL and control characters', (text(0.0, 'a\x00b\x07c'),),
               ('transcript_sanitized',), note='DDS strings end at NUL: unit only')  # fmt: skip
    yield Case('terminal escape codes', (text(0.0, 'a\x1b[31mred\x1b[0m b\x07'),),
               ('transcript_sanitized',), live=True)  # fmt: skip
    yield Case('transcript span reversed', (Event('transcript', 0.0, text='ok', start=5.0,
               end=1.0),), ('transcript_invalid',))  # fmt: skip
    yield Case('transcript stamp zero', (Event('transcript', 0.0, absolute=True, text='ok'),),
               ('transcript_stamp_zero',))  # fmt: skip
    # -- outages and missing modalities ------------------------------------------------------
    yield Case('camera stops for 30 s and restarts',
               (Event('pause', 30.0), *(raw(0.1 + i / 15) for i in range(30))),
               ('stale_total', 'gaps_total'))  # fmt: skip
    yield Case('camera stops for 3 s and restarts',
               (Event('pause', 3.0), *(raw(0.1 + i / 15) for i in range(30))),
               ('stale_total', 'gaps_total'), live=True)  # fmt: skip
    talk = (e for k in range(36) for e in (Event('pause', 5.0), text(0.0, f'still here {k}')))
    yield Case('only transcripts for 3 minutes', tuple(talk), ('stale_total', 'transcripts_total'))
    yield Case('only camera for 2 minutes', tuple(raw(0.2 * (i + 1)) for i in range(600)),
               ('windows_total',))  # fmt: skip


CASES: tuple[Case, ...] = tuple(_cases())


def live_cases() -> tuple[Case, ...]:
    """The subset run through the real node (each cheap to publish over DDS)."""
    return tuple(c for c in CASES if c.live)


def diagnostic_key(cause: str) -> str:
    """The /diagnostics key a case's cause is counted under."""
    return cause if cause.endswith('_total') else f'skipped_{cause}'


class PipelineRunner:
    """Feeds cases through a `PerceptionPipeline` with simulated stamps and arrival times.

    `t` is the stamps' clock (a live camera: stamps = arrival), advanced past each case;
    pauses advance both clocks and tick the pipeline every `tick` seconds as the node's
    diagnostics timer would.
    """

    def __init__(self, pipeline: Any, t0: float = 1_700_000_000.0, tick: float = 0.25) -> None:
        self.pipe = pipeline
        self.t = float(t0)
        self.tick = float(tick)
        self.results = 0

    def _tick_until(self, t_end: float) -> None:
        t = self.t
        while t < t_end:
            t = min(t + self.tick, t_end)
            self.results += self.pipe.tick(t) is not None

    def event(self, e: Event) -> Any:
        """Feed one event; return the FrameOutcome / transcript cause (None for a pause)."""
        p = self.pipe
        if e.kind == 'pause':
            self._tick_until(self.t + e.dt)
            self.t += e.dt
            return None
        stamp = e.dt if e.absolute else self.t + e.dt
        plausible = not e.absolute and 0 <= e.dt < WILD  # wild stamps arrive now
        arrival = self.t + e.dt if plausible else self.t
        if e.kind == 'image':
            out = p.process_image(
                stamp, e.encoding, e.height, e.width, e.step, e.is_bigendian, e.data,
                arrival=arrival,
            )  # fmt: skip
        elif e.kind == 'compressed':
            out = p.process_compressed(stamp, e.fmt, e.data, arrival=arrival)
        elif e.kind == 'string':
            out = p.on_transcript(p.input_time(arrival), e.text, arrival=arrival)
        else:
            start = None if e.start is None else self.t + e.start
            end = None if e.end is None else self.t + e.end
            out = p.on_transcript(stamp, e.text, start, end, arrival=arrival)
        self.results += getattr(out, 'result', None) is not None
        return out

    def case(self, case: Case) -> list[Any]:
        """Feed a case, then move the clocks past it."""
        outs = [self.event(e) for e in case.events]
        ahead = [e.dt for e in case.events if e.kind != 'pause' and not e.absolute]
        ahead = [d for d in ahead if 0 <= d < WILD]
        self.t += max([0.0, *ahead]) + 1.1  # past the flood limit's 1 s window
        return outs

    def good_frames(self, n: int = 8, fps: float = 15.0) -> list[Any]:
        """`n` valid frames at `fps` (what must still be processed after a bad case)."""
        img = good_bgr(1)
        outs = []
        for _ in range(n):
            self.t += 1.0 / fps
            outs.append(self.pipe.process_bgr(self.t, img, arrival=self.t))
        return outs
