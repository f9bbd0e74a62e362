"""Neural-network building blocks with PyTorch's names and contracts.

`Module` and `Parameter`; layers (`Linear`, `Flatten`, `Unflatten`, `Dropout`, activations,
convolution and transposed convolution, pooling, normalisation, `Embedding`, positional embeddings,
recurrent layers, `MultiheadAttention` and the Transformer layers, `PatchEmbedding`); containers
(`Sequential`, `ModuleList`, `ModuleDict`, `ParameterList`, `ParameterDict`); losses;
the `functional` and `init` submodules; and the built-in models (`SeedNet`, `MLP` in
`ttrain.nn.models`, `LeNet5`, `CNN` in `ttrain.nn.vision_models`, `CharLSTM` in
`ttrain.nn.language_models`).
"""

from ttrain.nn import functional, init, utils
from ttrain.nn.attention import MultiheadAttention, generate_square_subsequent_mask
from ttrain.nn.activation import (
    ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from ttrain.nn.channel_dropout import Dropout2d
from ttrain.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from ttrain.nn.conv import Conv1d, Conv2d
from ttrain.nn.conv_transpose import ConvTranspose2d
from ttrain.nn.dropout import Dropout
from ttrain.nn.embedding import Embedding
from ttrain.nn.flatten import Flatten, Unflatten
from ttrain.nn.linear import Identity, Linear
from ttrain.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from ttrain.nn.language_models import CharLSTM
from ttrain.nn.models import MLP, SeedNet
from ttrain.nn.module import Module
from ttrain.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from ttrain.nn.parameter import Parameter
from ttrain.nn.patch_embedding import PatchEmbedding
from ttrain.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool1d, MaxPool2d
from ttrain.nn.positional import LearnedPositionalEmbedding, PositionalEncoding
from ttrain.nn.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    GRULayer,
    LSTMCell,
    LSTMLayer,
    RNNBase,
    RNNCell,
    RNNCellBase,
    RNNLayer,
    SequenceOutput,
)
from ttrain.nn.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    TransformerEncoderStack,
)
from ttrain.nn.vision_models import CNN, LeNet5

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "CNN", "CharLSTM", "Conv1d", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "ELU",
    "Embedding", "Flatten", "GELU", "GroupNorm", "Hardtanh", "HuberLoss", "Identity", "KLDivLoss", "L1Loss",
    "LayerNorm", "LearnedPositionalEmbedding", "LeNet5", "LeakyReLU", "Linear", "LogSoftmax", "MLP", "MSELoss",
    "MaxPool1d", "MaxPool2d", "Mish", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter",
    "ParameterDict", "ParameterList",
    "PositionalEncoding", "ReLU", "SELU", "SeedNet", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax",
    "Softplus", "Tanh", "Unflatten", "functional", "init",
    # recurrent layers (ttrain.nn.recurrent)
    "GRU", "GRUCell", "GRULayer", "LSTM", "LSTMCell", "LSTMLayer", "RNN", "RNNBase", "RNNCell", "RNNCellBase",
    "RNNLayer", "SequenceOutput",
    # attention (ttrain.nn.attention, ttrain.nn.transformer, ttrain.nn.patch_embedding)
    "MultiheadAttention", "PatchEmbedding", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer", "TransformerEncoderStack", "generate_square_subsequent_mask",
]
