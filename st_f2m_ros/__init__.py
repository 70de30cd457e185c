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
"""st_f2m_ros: fine-grained emotion perception (ST-F2M) for ROS 2 robots.

Kept import-light on purpose: in a colcon install this file replaces the (empty) package
`__init__.py` that rosidl generates beside `st_f2m_ros.msg` / `st_f2m_ros.srv`, so it must
not import torch, OpenCV or rclpy.
"""

__version__ = '0.1.0'

# Let st_f2m_ros.msg / st_f2m_ros.srv come from another st_f2m_ros folder on sys.path: the test
# environment .venv-ros (tools/ros_venv.sh) holds only the generated interfaces, and the core
# is imported from the source tree. A no-op where there is one folder (colcon, pip installs).
__path__ = __import__('pkgutil').extend_path(__path__, __name__)
