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
"""Atomic file writes and no-pickle array files, shared by the dataset and bag writers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
import json
import os
from pathlib import Path
import tempfile
from typing import Any

import numpy as np

from st_f2m_ros.errors import DataError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it over `path` with os.replace.

    Readers never see a half-written file: either the old one or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; datasets and bags are meant to be shared
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=False) + '\n', encoding='utf-8')


def read_json(path: str | Path, what: str) -> Any:
    """Read JSON; a missing or malformed file raises DataError saying what was expected."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise DataError(f'{path} not found: expected {what}') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f'{path} is not valid JSON ({err}); expected {what}') from err


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """Write an .npz atomically (plain arrays only: unicode, numbers, bools; never objects)."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise DataError(f'array {key!r} has dtype object, which would need pickle')
    with atomic_path(path) as tmp, open(tmp, 'wb') as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)


def read_npz(path: str | Path, required: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """Load an .npz without pickle; raise DataError naming the file and any missing key."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f'{path} not found: expected {what}') from None
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f'{path} is not a readable .npz ({err}); expected {what}') from err
    missing = [k for k in required if k not in data]
    if missing:
        raise DataError(f'{path} lacks arrays {missing}; expected {what}')
    return data
