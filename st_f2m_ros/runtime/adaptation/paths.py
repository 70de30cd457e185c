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
"""Where /adapt may read support clip files from: plain paths and file:// URIs under clip_roots.

/adapt is a service anyone on the ROS graph can call, so a clip path is untrusted: it must not
make the node read (or report the existence of) files outside the configured roots. Every file
the readers will open is resolved (symlinks followed) and checked: the clip path itself, every
member of a bag folder, the storage files its metadata.yaml names, and the `.labels.yaml`
sidecar. A symlink that leads out of the roots is refused with the reason, not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import re
from urllib.parse import unquote, urlsplit

import yaml

from st_f2m_ros.errors import AdaptationError

_SCHEME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')


@dataclass(frozen=True)
class ClipLimits:
    """What a support clip may be (protects the node from huge or hostile requests)."""

    roots: tuple[Path, ...] = ()
    max_file_bytes: int = 512 * 1024 * 1024
    max_frames_per_clip: int = 600
    max_frame_side: int = 4096


def uri_to_path(uri: str) -> Path:
    """A plain absolute path, or `file:///abs/path` (percent-decoded); other schemes refused."""
    if not isinstance(uri, str) or not uri:
        raise AdaptationError('empty clip URI')
    raw = uri
    if _SCHEME_RE.match(uri):
        parts = urlsplit(uri)
        if parts.scheme.lower() != 'file':
            raise AdaptationError(
                f'clip URI {uri!r}: scheme {parts.scheme!r} is not supported; give an absolute '
                'path or a file:///absolute/path URI of a file under clip_roots'
            )
        if parts.netloc not in ('', 'localhost'):
            raise AdaptationError(
                f'clip URI {uri!r} names host {parts.netloc!r}: only local files '
                '(file:///absolute/path) are read'
            )
        if parts.query or parts.fragment:
            raise AdaptationError(f'clip URI {uri!r}: a query or fragment is not supported')
        raw = unquote(parts.path)
    if '\x00' in raw:
        raise AdaptationError(f'clip URI {uri!r} contains a NUL byte')
    p = Path(raw).expanduser()
    if '..' in p.parts:
        raise AdaptationError(f'clip URI {uri!r} contains "..": give a plain absolute path')
    if not p.is_absolute():
        raise AdaptationError(f'clip URI {uri!r} is relative: give an absolute path')
    return p


class Confinement:
    """The clip roots, resolved once; `check` resolves a path and refuses it outside them."""

    def __init__(self, roots: tuple[Path, ...]) -> None:
        if not roots:
            raise AdaptationError(
                'no clip roots are configured (parameter clip_roots): file clips '
                'are refused; send inline clips or configure a root'
            )
        self.roots = tuple(Path(r).expanduser().resolve() for r in roots)

    def check(self, path: Path, shown: str) -> Path:
        """The real path of `path` (which must exist) if it lies under a root, else raise."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError) as err:
            raise AdaptationError(f'clip file {shown!r} does not exist or cannot be read') from err
        if not any(real.is_relative_to(root) for root in self.roots):
            allowed = ', '.join(str(r) for r in self.roots)
            via = '' if real == path else f' (it leads to {real} through a symbolic link)'
            raise AdaptationError(
                f'clip file {shown!r} is outside the allowed clip roots ({allowed}){via}'
            )
        return real

    def sidecar(self, path: Path) -> Path | None:
        """The checked `<path>.labels.yaml` if there is one (a link out of the roots raises)."""
        side = path.with_name(path.name + '.labels.yaml')
        if not side.exists() and not side.is_symlink():
            return None
        return self.check(side, str(side))


def bag_files(folder: Path, confine: Confinement) -> list[Path]:
    """Every file a reader may open in a rosbag2 folder, each checked; raise on an escape.

    That is every entry under the folder (a member may be a link out of the roots) and the
    storage files metadata.yaml names (which may point elsewhere).
    """
    files: list[Path] = []
    for member in sorted(folder.rglob('*')):
        real = confine.check(member, f'{folder.name}/{member.relative_to(folder)}')
        if real.is_file():
            files.append(real)
    try:
        doc = yaml.safe_load((folder / 'metadata.yaml').read_text(encoding='utf-8'))
        info = doc['rosbag2_bagfile_information']
        named = [str(p) for p in info.get('relative_file_paths') or []]
        named += [str(f['path']) for f in info.get('files') or [] if 'path' in f]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        named = []  # unreadable metadata: the bag reader reports it
    for rel in named:
        real = confine.check(folder / rel, f'{folder.name}/{rel}')
        if real not in files:
            files.append(real)
    return files


def resolve_clip_uri(uri: str, limits: ClipLimits) -> Path:
    """The real path of a clip URI whose every file lies under a clip root, else raise.

    Also refuses clips over `limits.max_file_bytes` (all files of a bag folder together).
    """
    path = uri_to_path(uri)
    confine = Confinement(limits.roots)
    real = confine.check(path, uri)
    files = bag_files(real, confine) if real.is_dir() else [real]
    confine.sidecar(real)
    size = sum(f.stat().st_size for f in files)
    if size > limits.max_file_bytes:
        raise AdaptationError(
            f'clip file {uri!r} has {size} bytes, over the limit of {limits.max_file_bytes}; '
            'cut it shorter or raise max_clip_bytes'
        )
    return real
