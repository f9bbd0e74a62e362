"""Moving models out of ttrain and in: PyTorch state dicts and ONNX graphs.

A model leaves as one chain of layers (`chain.layer_chain`): a `Sequential` is its layers in
order, a built-in model says its own chain (`as_layers`). Each layer of the chain maps to a
`torch.nn` layer of the same name and tensor layouts (`torch_format`) and to ONNX nodes
(`onnx_format`); `jobs` holds what `ttrain export` and `ttrain import` run.
"""
