"""`ttrain.nn.utils`: gradient clipping under PyTorch's import path (the code lives in `ttrain.optim.clip`)."""

from ttrain.optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]
