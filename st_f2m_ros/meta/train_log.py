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
"""Per-epoch training records: one CSV row and one TensorBoard scalar set per epoch.

Only rank 0 logs (the trainer makes no `MetricsLog` calls elsewhere). TensorBoard is optional:
without it the CSV is the whole record.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

CSV_FIELDS = (
    'stage',
    'epoch',
    'global_epoch',
    'seconds',
    'train_loss',
    'train_acc',
    'val_acc',
    'val_basic_acc',
    'val_adapt_before',
    'val_adapt_after',
)


class MetricsLog:
    """Appends rows to `out/metrics.csv` and scalars to `out/tb` (opened on first use)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.writer: Any = None  # None: not opened yet; False: TensorBoard not installed

    def write(self, row: dict[str, Any]) -> None:
        """Log one epoch's row (keys of CSV_FIELDS; float values also go to TensorBoard)."""
        path = self.out / 'metrics.csv'
        new = not path.exists()
        with open(path, 'a', newline='') as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS, restval='', extrasaction='ignore')
            if new:
                w.writeheader()
            w.writerow(row)
        if self.writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.out / 'tb'))
            except ImportError:
                self.writer = False
        if self.writer:
            step = int(row['global_epoch'])
            for k, v in row.items():
                if isinstance(v, float):
                    self.writer.add_scalar(f'{row["stage"]}/{k}', v, step)
            self.writer.flush()

    def close(self) -> None:
        """Close the TensorBoard writer if one was opened."""
        if self.writer:
            self.writer.close()
