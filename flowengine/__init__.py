"""flowengine: a visual flow engine for IoT device data.

The public surface for node authors is :class:`flowengine.node.Node` and
:class:`flowengine.message.Message`; everything else is the engine.
"""

from flowengine.message import Message
from flowengine.node import Node

__all__ = ["Message", "Node"]
__version__ = "0.1.0"
