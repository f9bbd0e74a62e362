"""Free-function forms of the tensor ops (`ttrain.exp(x)`, `ttrain.cat([...])`, ...), as in PyTorch.

Generated from the op table, `ttrain.autograd.op_table`, which also makes the Tensor methods;
`ttrain` publishes exactly the names in this module's `__all__`.
"""

from ttrain.autograd.op_table import function_forms

globals().update(function_forms())
__all__ = sorted(function_forms())
