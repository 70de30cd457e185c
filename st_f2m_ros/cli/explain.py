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
"""`st-f2m explain IMAGE_OR_BAG`: a PNG per face that shows why the recognizer decided.

For clinicians and engineers who need the evidence, not just the label: mesh, components,
rules, expression net and the model's window decision side by side (see
`evaluation/explain_figure.py`). Prints one line per face; transcript text from a bag is
given to the model like the node would hear it and is never printed or written.
"""

from __future__ import annotations

import argparse
from typing import Any

DESCRIPTION = """\
Explain, face by face, what the recognizer measured and why it decided what it did.

IMAGE_OR_BAG is a still image (png, jpg, anything OpenCV reads) or a rosbag2 recording (a
folder, or a .mcap / .db3 file) with sensor_msgs/Image or sensor_msgs/CompressedImage on
--topic (default: the first image topic). An image gives one PNG per face found; a bag one
PNG per sampled frame (one every --every seconds, at most --max-frames), read like the node
reads a camera: the mesh is tracked and the person's neutral face learnt from calm frames.

Each PNG shows, left, the face with its 468 mesh points, box and head pose; right, the
twelve Table II components against the neutral baseline (unreliable ones greyed, e.g.
under a mask), the five fuzzy rules that fired most (class, Table II coding, source in the
rule file), the expression net's seven probabilities, and the decisions: the fine-grained
class from the rules, the expression net's top emotion and the checkpoint model's decision
for the window that holds the frame (a still image is copied into a window; the figure
says so). A JSON with the same numbers is written beside each PNG, and one summary line per
face is printed. No face: the PNG says so and the exit status is still 0.

The face models must be installed once: st-f2m models install.
"""


def register(subparsers: Any) -> None:
    """Add the `explain` subcommand."""
    p = subparsers.add_parser(
        'explain',
        help='PNG + JSON per face: mesh, components, fired rules, expression net, decision',
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            'Examples: st-f2m explain patient.jpg --out why/; st-f2m explain session.mcap '
            '--every 2 --max-frames 10; st-f2m explain bag_dir --topic /camera/image_raw '
            '--checkpoint runs/best.safetensors'
        ),
    )
    p.add_argument('input', metavar='IMAGE_OR_BAG', help='image file, or rosbag2 folder/file')
    p.add_argument('--out', default='explain_out', help='output folder (default explain_out)')
    p.add_argument(
        '--max-frames', type=int, default=20, metavar='N',
        help='at most N PNGs: faces of an image, sampled frames of a bag (default 20)',
    )  # fmt: skip
    p.add_argument(
        '--every', type=float, default=1.0, metavar='SECONDS',
        help='bag: explain one frame every SECONDS of stamps (default 1.0)',
    )  # fmt: skip
    p.add_argument(
        '--topic', default=None, help='bag: camera topic (default: the first image topic)'
    )
    p.add_argument(
        '--checkpoint', default=None, metavar='PATH',
        help='model checkpoint (.safetensors) for the window decision (default: shipped model)',
    )  # fmt: skip
    p.add_argument(
        '--no-model', action='store_true',
        help='skip the checkpoint model (faster; mesh, components, rules, expression net only)',
    )  # fmt: skip
    p.add_argument('--models-dir', default=None, help='look for the face model files here first')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain the input; print one line per face and where the files went."""
    from pathlib import Path
    import time

    from st_f2m_ros.evaluation.explain_sources import Explainer, ExplainOptions, input_kind

    t0 = time.perf_counter()
    path = Path(args.input)
    input_kind(path)  # a missing input fails before any model is loaded
    options = ExplainOptions(
        out=Path(args.out),
        max_frames=args.max_frames,
        every=args.every,
        topic=args.topic,
        checkpoint=args.checkpoint,
        use_model=not args.no_model,
        models_dir=args.models_dir,
    )
    options.validate()
    explainer = Explainer(options)
    faces = explainer.run(path)
    for fx in faces:
        print(fx.summary())
    found = sum(fx.found for fx in faces)
    if not found:
        print(f'{path.name}: no face found in any explained frame (PNG written anyway)')
    per = {
        k: sum(fx.timings_ms.get(k, 0.0) for fx in faces) / max(found, 1)
        for k in ('frontend', 'expression', 'rules')
    }
    fig = sum(fx.timings_ms.get('figure', 0.0) for fx in faces) / len(faces)
    loads = ', '.join(f'{k} {v:.1f} s' for k, v in explainer.timings_s.items())
    print(
        f'wrote {len(faces)} PNG + JSON to {options.out} in {time.perf_counter() - t0:.1f} s '
        f'(per face: front end {per["frontend"]:.0f} ms, expression net '
        f'{per["expression"]:.0f} ms, rules {per["rules"]:.0f} ms, figure {fig:.0f} ms; {loads})'
    )
    return 0
