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
"""Run rosidl's own .msg/.srv -> IDL conversion and IDL parser over the package's interfaces.

Executed by test_interfaces.py with Debian's /usr/bin/python3 (python3-rosidl lives in its
dist-packages, which a venv interpreter cannot import from). Prints one JSON document: for
each interface, the members (name, type) and constants (name, value) rosidl sees. This is the
same path rosidl_generate_interfaces takes on a robot, so a file that fails here fails there.
"""

import json
from pathlib import Path
import sys
import tempfile

from rosidl_adapter.msg import convert_msg_to_idl
from rosidl_adapter.srv import convert_srv_to_idl
from rosidl_parser.definition import IdlLocator, Message, Service
from rosidl_parser.parser import parse_idl_file


def _type_name(t):
    if hasattr(t, 'value_type'):
        size = getattr(t, 'size', None)
        return _type_name(t.value_type) + (f'[{size}]' if size is not None else '[]')
    for attr in ('typename', 'name'):
        if hasattr(t, attr):
            return getattr(t, attr)
    return type(t).__name__


def _default(member):
    if member.has_annotation('default'):
        return member.get_annotation_value('default')['value']
    return None


def _structure(msg):
    return {
        'members': [[m.name, _type_name(m.type)] for m in msg.structure.members],
        'defaults': {
            m.name: _default(m) for m in msg.structure.members if _default(m) is not None
        },
        'constants': {c.name: c.value for c in msg.constants},
    }


def main(root: Path) -> dict:
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for kind, convert in (('msg', convert_msg_to_idl), ('srv', convert_srv_to_idl)):
            for path in sorted((root / kind).glob(f'*.{kind}')):
                idl_path = convert(root, 'st_f2m_ros', path.relative_to(root), out / kind)
                idl = parse_idl_file(IdlLocator(out, idl_path.relative_to(out)))
                for element in idl.content.elements:
                    if isinstance(element, Message):
                        result[f'msg/{path.stem}'] = _structure(element)
                    elif isinstance(element, Service):
                        result[f'srv/{path.stem}'] = {
                            'request': _structure(element.request_message),
                            'response': _structure(element.response_message),
                        }
    return result


if __name__ == '__main__':
    # rosidl_adapter reports progress on stdout; keep stdout for the JSON document only.
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    doc = main(Path(sys.argv[1]).resolve())
    sys.stdout = real_stdout
    print(json.dumps(doc, default=str))
