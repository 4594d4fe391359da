"""flowengine's built-in node types, one module each.

The whole package is registered as one entry point (``builtin = "nodes"`` in the group
``flowengine.nodes``): every :class:`flowengine.node.Node` subclass defined in a module here is a
node type. Adding a node type is adding a module.
"""
