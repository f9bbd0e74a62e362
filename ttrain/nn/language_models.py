"""`CharLSTM`: a character-level language model (Embedding -> LSTM -> Linear to the vocabulary).

Registered for configs as `char_lstm`; the `text` dataset supplies its vocabulary size.
State-dict names: `embedding.weight`, `lstm.weight_ih_l0` ... (PyTorch's LSTM names), `head.weight`,
`head.bias`, so the same modules in PyTorch (`nn.Embedding`, `nn.LSTM(batch_first=True)`,
`nn.Linear`) load them.
"""

from __future__ import annotations

from typing import Any

from ttrain.autograd.tensor import Tensor
from ttrain.nn.embedding import Embedding
from ttrain.nn.linear import Linear
from ttrain.nn.module import Module
from ttrain.nn.recurrent import LSTM


class CharLSTM(Module):
    """Next-character logits at every position of a batch of character-index windows.

    The logits come out as (N, vocab_size, T), class axis second, as PyTorch's `cross_entropy`
    takes them against (N, T) targets; the accuracy and perplexity metrics read them the same way.
    `forward_with_state` also takes and returns the LSTM's (h, c) state, so text can be generated
    one character at a time without running the whole context again.
    """

    inferred_args = {"vocab_size": "classes"}

    def __init__(self, vocab_size: int = 128, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, embedding_dim)
        self.lstm = LSTM(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, vocab_size, T) for character indices (N, T)."""
        return self.forward_with_state(x)[0]

    def forward_with_state(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """Logits (N, vocab_size, T) and the LSTM's final (h, c), starting from ``state`` (None: zeros)."""
        if x.ndim != 2:
            raise ValueError(f"CharLSTM: expected character indices of shape (N, T), got {tuple(x.shape)}")
        hidden, state = self.lstm(self.embedding(x), state)
        return self.head(hidden).transpose(1, 2), state
