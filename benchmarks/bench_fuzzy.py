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
"""Time FuzzyInference.forward (FCIS + FKIS, section V-B3) for batch 1 and 256.

Usage: .venv/bin/python benchmarks/bench_fuzzy.py [--in-dim 128] [--repeats 200] [--threads 2]

Prints the median and p90 per call (inference mode, and forward + backward for training), and
the rule-only labelling throughput of label_from_components.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from st_f2m_ros.fuzzy import FuzzyInference, label_from_components, load_rule_base


def _time(fn, repeats: int) -> tuple[float, float]:
    for _ in range(max(3, repeats // 10)):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--in-dim', type=int, default=128, help='representation width h')
    parser.add_argument('--repeats', type=int, default=200)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rb = load_rule_base()
    model = FuzzyInference(args.in_dim, rb)
    print(
        f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
        f'torch {torch.__version__}, {torch.get_num_threads()} threads, in_dim {args.in_dim}, '
        f'{sum(len(r.codings) for r in rb.rules)} rules'
    )
    print(f'{"batch":>6} {"mode":>10} {"median ms":>10} {"p90 ms":>8} {"samples/s":>11}')
    for batch in (1, 256):
        h = torch.randn(batch, args.in_dim)

        def infer(h: torch.Tensor = h) -> None:
            with torch.inference_mode():
                model(h).features()

        def train(h: torch.Tensor = h) -> None:
            model.zero_grad(set_to_none=True)
            model(h).features().sum().backward()

        for mode, fn in (('inference', infer), ('fwd+bwd', train)):
            med, p90 = _time(fn, args.repeats)
            print(
                f'{batch:>6} {mode:>10} {med * 1e3:>10.3f} {p90 * 1e3:>8.3f} {batch / med:>11.0f}'
            )
    comps = np.random.default_rng(0).uniform(-1, 1, (10000, 12)).astype(np.float32)
    med, _ = _time(lambda: label_from_components(comps, rb), max(5, args.repeats // 20))
    print(
        f'label_from_components: 10000 vectors in {med * 1e3:.1f} ms ({10000 / med:.0f} vectors/s)'
    )


if __name__ == '__main__':
    main()
