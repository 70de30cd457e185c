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
"""Clip files stay under clip_roots: every file a reader opens is resolved and checked.

Real symlinks in tmp_path: a member of a bag folder, the storage file metadata.yaml names and the
`.labels.yaml` sidecar can each lead out of the roots; file:// URIs are percent-decoded.
"""

from __future__ import annotations

import os
from pathlib import Path
import shutil
from urllib.parse import quote

import pytest

from st_f2m_ros.errors import AdaptationError
from st_f2m_ros.runtime.adaptation.clip_sources import ClipLimits, resolve_clip_uri
from st_f2m_ros.runtime.adaptation.manager import AdaptRequest

LABELS = ('happiness_high', 'anger_high', 'neutral')


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / 'private'
    d.mkdir()
    return d


def _bag(helpers, folder: Path) -> Path:
    return helpers.write_bag(folder, [(lab, 4) for lab in LABELS])


def test_symlinked_member_of_a_bag_folder_is_refused(
    make_manager, helpers, clip_root: Path, outside: Path
) -> None:
    bag = _bag(helpers, clip_root / 'support')
    storage = next(bag.glob('*.mcap'))
    secret = outside / storage.name
    shutil.move(storage, secret)  # the real data lives outside the roots
    os.symlink(secret, storage)
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[str(bag)]))
    assert not out.success
    assert 'outside the allowed clip roots' in out.message and 'symbolic link' in out.message


def test_storage_file_named_by_metadata_outside_the_roots_is_refused(
    helpers, clip_root: Path, outside: Path
) -> None:
    bag = _bag(helpers, clip_root / 'support')
    storage = next(bag.glob('*.mcap'))
    shutil.move(storage, outside / storage.name)
    meta = bag / 'metadata.yaml'
    rel = os.path.relpath(outside / storage.name, bag)
    meta.write_text(meta.read_text().replace(f'- {storage.name}', f'- {rel}'))
    assert rel in meta.read_text()
    with pytest.raises(AdaptationError, match='outside the allowed clip roots'):
        resolve_clip_uri(str(bag), ClipLimits(roots=(clip_root,)))


def test_symlinked_sidecar_is_refused(
    make_manager, helpers, clip_root: Path, outside: Path
) -> None:
    bag = helpers.write_bag(clip_root / 'b', [('anger_high', 5)], with_truth=False)
    mcap = next(bag.glob('*.mcap'))
    loose = clip_root / 'loose.mcap'
    shutil.copy(mcap, loose)
    (outside / 'labels.yaml').write_text('label: anger_high\n')
    os.symlink(outside / 'labels.yaml', clip_root / 'loose.mcap.labels.yaml')
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[str(loose)]))
    assert not out.success and 'loose.mcap.labels.yaml' in out.message
    assert 'outside the allowed clip roots' in out.message


def test_a_link_inside_the_roots_is_followed(make_manager, helpers, clip_root: Path) -> None:
    bag = _bag(helpers, clip_root / 'support')
    os.symlink(bag, clip_root / 'latest')
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[str(clip_root / 'latest')]))
    assert out.success, out.message


def test_file_uri_is_percent_decoded(make_manager, helpers, clip_root: Path) -> None:
    from st_f2m_ros.runtime.adaptation.paths import uri_to_path

    bag = _bag(helpers, clip_root / 'support clips %1')
    uri = 'file://' + quote(str(bag))
    assert '%20' in uri and '%251' in uri
    assert uri_to_path(uri) == bag
    assert uri_to_path('file://localhost' + quote(str(bag))) == bag
    out = make_manager().adapt(AdaptRequest('p07', clip_uris=[uri]))
    assert out.success, out.message


@pytest.mark.parametrize(
    ('uri', 'reason'),
    [
        ('http://example.org/clip.mcap', "scheme 'http' is not supported"),
        ('s3://bucket/clip.mcap', "scheme 's3' is not supported"),
        ('file://robot2/data/clip.mcap', "names host 'robot2'"),
        ('file:///data/clip.mcap?x=1', 'query or fragment'),
        ('file:///data/%2e%2e/etc/passwd', 'contains ".."'),
        ('file:relative/clip.mcap', 'relative'),
        ('/data/clip\x00.mcap', 'NUL'),
    ],
)
def test_bad_uris_are_refused_with_the_reason(uri: str, reason: str) -> None:
    from st_f2m_ros.runtime.adaptation.paths import uri_to_path

    with pytest.raises(AdaptationError, match=reason.replace('.', r'\.').replace('?', r'\?')):
        uri_to_path(uri)
