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
"""Persisted per-subject adaptations: `<root>/<subject>/v0003.safetensors`, versioned.

An adaptation is the inner-loop parameters (paper eq. 6) of one person. Each is written as one
safetensors file (no pickle) whose header metadata holds a JSON description (subject, version,
checkpoint id, support accuracies, creation time), written atomically (temp file + fsync +
os.replace + directory fsync) so a crash or a full disk never leaves a half file under a
version name. The node and `st-f2m adapt` may write one store at the same time: a version
number is taken and written under an exclusive `flock` on `<subject>/.lock`, so two writers
never pick the same number. Only the newest `keep` versions are kept. A file that cannot be
parsed, or that belongs to another checkpoint, raises AdaptationError; `newest_loadable` then
tries the next older version. Only `vNNNN.safetensors` files are ever read, by the safetensors
parser (no pickle): a `.pt`/`.pkl` file in the store is never opened.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import fcntl
import json
import os
from pathlib import Path
import re
import shutil
import tempfile
from typing import Any

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.subjects import SUBJECT_ID_RE as SUBJECT_RE
from st_f2m_ros.runtime.subjects import validate_subject_id

_VERSION_RE = re.compile(r'^v(\d{4,})\.safetensors$')
META_KEY = 'st_f2m_adaptation'
FORMAT_VERSION = 1


def check_subject(subject: str) -> str:
    """Return `subject` if it is a safe id (runtime.subjects, the one rule), else raise."""
    return validate_subject_id(subject)


@dataclass(frozen=True)
class StoredAdaptation:
    """A loaded adaptation: parameters (name -> torch.Tensor) and its metadata."""

    subject: str
    version: int
    params: dict[str, Any]
    meta: dict[str, Any]
    path: Path


TMP_SUFFIX = '.tmp'
_CHUNK = 1 << 20


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (same-directory temp file, fsync, os.replace).

    The temp name starts with '.', so no reader ever takes it for a version.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            view = memoryview(data)
            for i in range(0, len(view), _CHUNK):
                f.write(view[i : i + _CHUNK])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class AdaptationStore:
    """Versioned safetensors files of per-subject adaptations under one root folder."""

    def __init__(self, root: str | Path, keep: int = 3) -> None:
        if keep < 1:
            raise AdaptationError(f'keep must be >= 1 version, got {keep}')
        self.root = Path(root).expanduser()
        self.keep = int(keep)

    def subject_dir(self, subject: str) -> Path:
        """Folder of one subject's versions."""
        return self.root / check_subject(subject)

    def versions(self, subject: str) -> list[int]:
        """Version numbers on disk for `subject`, ascending."""
        d = self.subject_dir(subject)
        if not d.is_dir():
            return []
        found = (_VERSION_RE.match(p.name) for p in d.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def path_of(self, subject: str, version: int) -> Path:
        """File of one version."""
        return self.subject_dir(subject) / f'v{version:04d}.safetensors'

    @contextlib.contextmanager
    def _locked(self, subject: str) -> Iterator[Path]:
        """Exclusive lock of one subject's folder, across threads and processes (flock)."""
        d = self.subject_dir(subject)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / '.lock', os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield d
        finally:
            os.close(fd)  # closing releases the lock (also when the process dies)

    def save(self, subject: str, params: dict[str, Any], meta: dict[str, Any]) -> int:
        """Save `params` as the next version of `subject`; prune old ones; return the version.

        The number is allocated and the file written under the subject's lock, so a second
        writer (another thread, or `st-f2m adapt` beside the node) takes the next number.
        Raises AdaptationError (with the OS reason) when the store cannot be written.
        """
        from safetensors.torch import save
        import torch

        tensors = {
            k: torch.as_tensor(v).detach().to('cpu').contiguous().clone()
            for k, v in params.items()
        }
        if not tensors:
            raise AdaptationError('refusing to persist an adaptation with no parameters')
        keep = self.keep  # read once: keep_versions may change live
        try:
            with self._locked(subject) as d:
                for stale in d.glob(f'.v*{TMP_SUFFIX}'):  # left by a writer that died
                    stale.unlink(missing_ok=True)
                existing = self.versions(subject)
                version = (existing[-1] + 1) if existing else 1
                info = {**meta, 'subject': subject, 'version': version, 'format': FORMAT_VERSION}
                blob = save(tensors, metadata={META_KEY: json.dumps(info, sort_keys=True)})
                atomic_write_bytes(self.path_of(subject, version), blob)
                for old in self.versions(subject)[:-keep]:
                    self.path_of(subject, old).unlink(missing_ok=True)
        except OSError as err:
            raise AdaptationError(
                f'cannot write the adaptation of {subject} under {self.root}: '
                f'{err.strerror or err} (errno {err.errno}); check the adaptation_store folder '
                'and free space'
            ) from err
        return version

    def load(
        self, subject: str, version: int, checkpoint_id: str | None = None
    ) -> StoredAdaptation:
        """Load one version; raise AdaptationError when it is corrupt or for another checkpoint."""
        from safetensors import SafetensorError
        from safetensors.torch import load

        path = self.path_of(subject, version)
        try:
            data = path.read_bytes()
            params = load(data)
            header_len = int.from_bytes(data[:8], 'little')
            header = json.loads(data[8 : 8 + header_len])
            meta = json.loads(header['__metadata__'][META_KEY])
        except (OSError, SafetensorError, ValueError, KeyError, TypeError) as err:
            raise AdaptationError(
                f'persisted adaptation {path} is corrupt ({type(err).__name__}: {err}); '
                'delete it or call /reset_adaptation with delete_persisted'
            ) from err
        if meta.get('subject') != subject:
            raise AdaptationError(f'{path} belongs to subject {meta.get("subject")!r}')
        if checkpoint_id is not None and meta.get('checkpoint_id') != checkpoint_id:
            raise AdaptationError(
                f'{path} was adapted from checkpoint {meta.get("checkpoint_id")!r}, not the '
                f'running {checkpoint_id!r}; adapt again'
            )
        return StoredAdaptation(subject, version, params, meta, path)

    def latest(self, subject: str, checkpoint_id: str | None = None) -> StoredAdaptation | None:
        """Load the newest version of `subject` (None when there is none); raise if corrupt."""
        versions = self.versions(subject)
        if not versions:
            return None
        return self.load(subject, versions[-1], checkpoint_id)

    def newest_loadable(
        self, subject: str, checkpoint_id: str | None = None
    ) -> tuple[StoredAdaptation | None, list[str]]:
        """The newest version that loads, trying newest to oldest, and why each newer failed.

        A crash, a full disk or a bad copy can spoil the newest file; the person's previous
        adaptation is still better than the base model, so it is used and the spoilt one is
        reported (never deleted: it is evidence).
        """
        problems: list[str] = []
        try:
            versions = self.versions(subject)
        except OSError as err:
            return None, [f'cannot list {self.subject_dir(subject)}: {err}']
        for version in reversed(versions):
            try:
                return self.load(subject, version, checkpoint_id), problems
            except AdaptationError as err:
                problems.append(str(err))
        return None, problems

    def subjects(self) -> list[str]:
        """Subjects with at least one stored version."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if SUBJECT_RE.match(p.name) and self.versions(p.name)
        )

    def delete(self, subject: str) -> int:
        """Delete every stored version of `subject`; return how many files were removed."""
        n = len(self.versions(subject))
        d = self.subject_dir(subject)
        if d.is_dir():
            shutil.rmtree(d)
        return n
