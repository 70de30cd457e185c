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
"""Where installed model files are looked for, and the check that they are the pinned ones.

Search order for each file (the first folder that holds it wins; see `search_dirs`):

1. an explicit folder: the `models_dir` argument (node parameter, CLI option), then the
   `ST_F2M_MODELS_DIR` environment variable (one folder or an os.pathsep-separated list);
2. the per-user data folder: `$XDG_DATA_HOME/st_f2m_ros/models` (default
   `~/.local/share/st_f2m_ros/models`);
3. the Python install prefix: `<sys.prefix>/share/st_f2m_ros/models` (a venv, a pip install);
4. every colcon/ament prefix on `AMENT_PREFIX_PATH`: `<prefix>/share/st_f2m_ros/models`.

A file that is found is checked against its pinned sha256 (once per process and file
version), and a file that fails is refused rather than skipped: a corrupted or swapped model
must be noticed, not silently replaced by another folder's copy.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import sys
import threading

from st_f2m_ros.errors import ModelFileError
from st_f2m_ros.models.registry import REGISTRY, ModelFile, registry_entry

ENV_VAR = 'ST_F2M_MODELS_DIR'
SUBDIR = Path('st_f2m_ros') / 'models'
INSTALL_HINT = 'st-f2m models install'

_verified: dict[tuple[str, int, int], str] = {}
_verified_lock = threading.Lock()


def user_models_dir() -> Path:
    """The per-user models folder (XDG data home)."""
    base = os.environ.get('XDG_DATA_HOME') or str(Path.home() / '.local' / 'share')
    return Path(base).expanduser() / SUBDIR


def prefix_models_dir() -> Path:
    """The models folder of the running Python's install prefix (venv or system)."""
    return Path(sys.prefix) / 'share' / SUBDIR


def search_dirs(models_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for model files, in order, without duplicates."""
    dirs: list[Path] = []
    if models_dir:
        dirs.append(Path(models_dir).expanduser())
    env = os.environ.get(ENV_VAR, '')
    dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    dirs.append(user_models_dir())
    dirs.append(prefix_models_dir())
    ament = os.environ.get('AMENT_PREFIX_PATH', '')
    dirs.extend(Path(p) / 'share' / SUBDIR for p in ament.split(os.pathsep) if p)
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def default_install_dir() -> Path:
    """Where `st-f2m models install` writes without --dest.

    `ST_F2M_MODELS_DIR` if set, else the Python prefix's share folder when it can be written
    (a venv: `make setup` installs beside the package), else the per-user folder.
    """
    env = [p for p in os.environ.get(ENV_VAR, '').split(os.pathsep) if p]
    if env:
        return Path(env[0]).expanduser()
    prefix = prefix_models_dir()
    probe = prefix
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        return prefix
    return user_models_dir()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, entry: ModelFile) -> None:
    """Raise ModelFileError unless `path` has the entry's size and sha256 (cached per version)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _verified_lock:
        if _verified.get(key) == entry.sha256:
            return
    if st.st_size != entry.size:
        raise ModelFileError(
            f'{path}: size {st.st_size} bytes, expected {entry.size} for {entry.name} '
            f'({entry.requirement}); reinstall with: {INSTALL_HINT} --force'
        )
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ModelFileError(
            f'{path}: sha256 {digest} does not match the pinned {entry.sha256} for '
            f'{entry.name} ({entry.requirement}); reinstall with: {INSTALL_HINT} --force'
        )
    with _verified_lock:
        _verified[key] = entry.sha256


@dataclass(frozen=True)
class FileStatus:
    """Where one registry file was found and whether it passed its check."""

    entry: ModelFile
    path: Path | None
    status: str  # 'ok' | 'missing' | 'corrupt'
    detail: str = ''


def find_file(entry: ModelFile, models_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first existing copy of `entry` along the search order, unchecked (None if none)."""
    for d in search_dirs(models_dir):
        cand = d / entry.filename
        if cand.is_file():
            return cand
    return None


def model_path(
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    registry: tuple[ModelFile, ...] = REGISTRY,
) -> Path:
    """Path of the installed, checksum-verified model file `name`.

    Raises:
        ModelFileError: the file is not installed in any searched folder (the message lists
            them and names the install command), or the copy found fails its checksum.
    """
    entry = registry_entry(name, registry)
    path = find_file(entry, models_dir)
    if path is None:
        where = ', '.join(str(d) for d in search_dirs(models_dir))
        raise ModelFileError(
            f'model file {entry.filename} ({entry.name}, from {entry.requirement}) is not '
            f'installed; looked in: {where}. Install the model files once at set-up time '
            f'with: {INSTALL_HINT} (or set {ENV_VAR} to a folder that holds them)'
        )
    check_file(path, entry)
    return path


def verify_models(
    models_dir: str | os.PathLike[str] | None = None,
    registry: tuple[ModelFile, ...] = REGISTRY,
) -> list[FileStatus]:
    """Check every registry file along the search order; never raises for a bad file."""
    out: list[FileStatus] = []
    for entry in registry:
        path = find_file(entry, models_dir)
        if path is None:
            out.append(FileStatus(entry, None, 'missing', f'run: {INSTALL_HINT}'))
            continue
        try:
            check_file(path, entry)
        except ModelFileError as err:
            out.append(FileStatus(entry, path, 'corrupt', str(err)))
        else:
            out.append(FileStatus(entry, path, 'ok'))
    return out
