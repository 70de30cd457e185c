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

"""pip install for use without ROS 2; all metadata is in pyproject.toml.

Under ROS 2 the package is built by colcon as an ament_cmake package (see CMakeLists.txt),
which does not run this file.
"""

from pathlib import Path
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithInterfaces(build_py):
    """Copy msg/ and srv/ into the built package (st_f2m_ros/resources/interfaces/).

    The core reads the .msg definitions at run time to register them with rosbags; a wheel
    must carry them, while a source checkout or a colcon install reads them in place.
    """

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / 'st_f2m_ros' / 'resources' / 'interfaces'
        for kind in ('msg', 'srv'):
            shutil.copytree(HERE / kind, target / kind, dirs_exist_ok=True)


setup(cmdclass={'build_py': BuildPyWithInterfaces})
