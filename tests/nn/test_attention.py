"""Attention without torch: the fused softmax against its NumPy definition, gradchecks in float64 of
the softmax, MultiheadAttention (masks, kdim/vdim, weights), the Transformer layers and
PatchEmbedding, masks and shapes, dropout, and the `layers:`-list forms with inferred sizes."""

import numpy as np
import pytest

import ttrain
from ttrain import nn
from ttrain.autograd.gradcheck import gradcheck
from ttrain.autograd.ops.attention import AttentionSoftmax, attention_softmax_reference
from ttrain.autograd.ops.errors import ShapeError
from ttrain.config.api import load_config
from ttrain.training.experiment import build_layers

N, L, S, E, HEADS = 2, 3, 4, 4, 2


def _tensor(rng, shape, grad=True):
    return ttrain.tensor(rng.standard_normal(shape), requires_grad=grad)


def _padding_and_causal(target=L, source=S):
    padding = np.zeros((N, source), dtype=bool)
    padding[1, -2:] = True  # the second sequence is two keys shorter
    causal = np.triu(np.ones((target, source), dtype=bool), k=1)
    return padding, causal


# ---- the fused softmax -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_softmax_matches_its_numpy_definition_with_masks_and_a_fully_masked_row(dtype):
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((2, 3, 5, 6)) * 4).astype(dtype)
    mask = np.where(rng.random((5, 6)) < 0.3, -np.inf, rng.standard_normal((5, 6))).astype(dtype)
    mask[2] = -np.inf  # every key of query 2 masked: zero weights, not NaN
    for m in (None, mask):
        out = AttentionSoftmax.apply(ttrain.tensor(scores), scale=0.25, mask=m).data
        expected = attention_softmax_reference(scores.astype(np.float64), 0.25, m)
        assert out.dtype == dtype and np.isfinite(out).all()
        np.testing.assert_allclose(out, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)
    masked = AttentionSoftmax.apply(ttrain.tensor(scores), scale=0.25, mask=mask).data
    assert (masked[:, :, 2] == 0).all() and np.allclose(np.delete(masked, 2, axis=2).sum(-1), 1)


def test_attention_softmax_gradient_matches_finite_differences_with_a_mask():
    rng = np.random.default_rng(1)
    scores = _tensor(rng, (2, 4, 5))
    mask = np.where(rng.random((4, 5)) < 0.3, -np.inf, 0.5)
    mask[1] = -np.inf
    assert gradcheck(lambda s: AttentionSoftmax.apply(s, scale=0.7, mask=mask), [scores])
    assert gradcheck(lambda s: AttentionSoftmax.apply(s), [scores])


def test_attention_softmax_names_a_mask_that_does_not_fit():
    with pytest.raises(ShapeError, match="mask"):
        AttentionSoftmax.apply(ttrain.zeros(2, 3, 4), mask=np.zeros((5, 4)))


# ---- MultiheadAttention ------------------------------------------------------------------------
@pytest.mark.parametrize("options, call", [
    ({}, {}),
    ({"batch_first": True}, {"masks": True, "average_attn_weights": False}),
    ({"kdim": 3, "vdim": 5, "bias": False}, {"masks": True}),
])
def test_multihead_attention_gradients_of_inputs_and_every_weight_match_finite_differences(options, call):
    ttrain.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS, dtype=np.float64, **options)
    rng = np.random.default_rng(2)
    first = (lambda t, b, f: (b, t, f)) if options.get("batch_first") else (lambda t, b, f: (t, b, f))
    q = _tensor(rng, first(L, N, E))
    k = _tensor(rng, first(S, N, options.get("kdim", E)))
    v = _tensor(rng, first(S, N, options.get("vdim", E)))
    kwargs = {"average_attn_weights": call.get("average_attn_weights", True)}
    if call.get("masks"):
        padding, causal = _padding_and_causal()
        kwargs.update(key_padding_mask=padding, attn_mask=causal)
    weights = list(mha.parameters())
    assert gradcheck(lambda q, k, v, *rest: mha(q, k, v, **kwargs), [q, k, v, *weights])


def test_self_attention_with_float_masks_and_is_causal_gradchecks():
    ttrain.manual_seed(1)
    mha = nn.MultiheadAttention(E, HEADS, batch_first=True, dtype=np.float64)
    rng = np.random.default_rng(3)
    x = _tensor(rng, (N, L, E))
    padding = np.where(_padding_and_causal(L, L)[0], -np.inf, 0.0)
    assert gradcheck(lambda x, *w: mha(x, x, x, key_padding_mask=padding, is_causal=True),
                     [x, *mha.parameters()])


def test_masked_keys_get_zero_weight_and_bool_and_float_masks_agree():
    ttrain.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS, batch_first=True)
    rng = np.random.default_rng(4)
    x = ttrain.tensor(rng.standard_normal((N, S, E)).astype(np.float32))
    padding, causal = _padding_and_causal(S, S)
    out, weights = mha(x, x, x, key_padding_mask=padding, attn_mask=causal, average_attn_weights=False)
    assert weights.shape == (N, HEADS, S, S)
    assert (weights.data[1, :, :, -2:] == 0).all() and (weights.data[:, :, causal] == 0).all()
    np.testing.assert_allclose(weights.data.sum(-1), 1, rtol=1e-6)
    float_masks = mha(x, x, x, key_padding_mask=np.where(padding, -np.inf, 0).astype(np.float32),
                      attn_mask=nn.generate_square_subsequent_mask(S))
    np.testing.assert_allclose(float_masks[0].data, out.data, rtol=1e-6)
    causal_flag, _ = mha(x, x, x, key_padding_mask=padding, is_causal=True)
    np.testing.assert_allclose(causal_flag.data, out.data, rtol=1e-6)


def test_unbatched_input_and_per_head_masks():
    ttrain.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS)
    rng = np.random.default_rng(5)
    x = ttrain.tensor(rng.standard_normal((N, L, E)).astype(np.float32))
    batched, batched_weights = mha(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1))
    single, single_weights = mha(x[1], x[1], x[1])
    assert single.shape == (L, E) and single_weights.shape == (L, L)
    np.testing.assert_allclose(single.data, batched.data[:, 1], rtol=1e-5, atol=1e-6)
    per_head = np.zeros((N * HEADS, L, L), dtype=bool)
    per_head[:, :, 0] = True  # nobody may look at key 0
    _, weights = mha(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), attn_mask=per_head)
    assert (weights.data[:, :, 0] == 0).all()
    output, none = mha(x[1], x[1], x[1], need_weights=False)
    assert none is None and output.shape == (L, E)


def test_multihead_attention_rejects_bad_sizes_and_masks():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    mha = nn.MultiheadAttention(E, HEADS, batch_first=True)
    x = ttrain.zeros(N, L, E)
    with pytest.raises(ShapeError, match="key_padding_mask"):
        mha(x, x, x, key_padding_mask=np.zeros((N, L + 1), dtype=bool))
    with pytest.raises(ShapeError, match="attn_mask"):
        mha(x, x, x, attn_mask=np.zeros((2, 2), dtype=bool))
    with pytest.raises(ShapeError, match="query"):
        mha(ttrain.zeros(N, L, E + 1), x, x)
    with pytest.raises(TypeError, match="bool or float"):
        mha(x, x, x, attn_mask=np.zeros((L, L), dtype=np.int64))


def test_attention_dropout_acts_only_in_training():
    ttrain.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS, dropout=0.5, batch_first=True)
    x = ttrain.randn(N, L, E)
    mha.eval()
    first, kept = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(mha(x, x, x)[0].data, first.data)
    mha.train()
    _, dropped = mha(x, x, x, average_attn_weights=False)
    survivors = dropped.data != 0
    assert 0 < survivors.mean() < 1  # some weights dropped, some kept, scaled by 1 / (1 - p)
    np.testing.assert_allclose(dropped.data[survivors], 2 * kept.data[survivors], rtol=1e-6)


def test_causal_mask_helper():
    mask = nn.generate_square_subsequent_mask(3).data
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])


# ---- Transformer layers ------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
def test_encoder_layer_gradcheck_with_masks(norm_first, activation):
    ttrain.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=6, dropout=0.0, activation=activation,
                                       norm_first=norm_first, batch_first=True, dtype=np.float64)
    rng = np.random.default_rng(6)
    x = _tensor(rng, (N, S, E))
    padding, causal = _padding_and_causal(S, S)
    assert gradcheck(lambda x, *w: layer(x, src_mask=causal, src_key_padding_mask=padding),
                     [x, *layer.parameters()])


def test_decoder_layer_gradcheck_with_causal_target():
    ttrain.manual_seed(0)
    layer = nn.TransformerDecoderLayer(E, HEADS, dim_feedforward=6, dropout=0.0, dtype=np.float64)
    rng = np.random.default_rng(7)
    tgt, memory = _tensor(rng, (L, N, E)), _tensor(rng, (S, N, E))
    padding, _ = _padding_and_causal()
    assert gradcheck(lambda t, m, *w: layer(t, m, tgt_is_causal=True, memory_key_padding_mask=padding),
                     [tgt, memory, *layer.parameters()])


def test_encoder_copies_its_layer_and_applies_the_final_norm():
    layer = nn.TransformerEncoderLayer(E, HEADS, dim_feedforward=8)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(E))
    state = encoder.state_dict()
    assert "layers.2.self_attn.in_proj_weight" in state and "norm.weight" in state
    np.testing.assert_array_equal(state["layers.0.linear1.weight"].data, state["layers.2.linear1.weight"].data)
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    encoder.eval()
    out = encoder(ttrain.randn(L, N, E)).data
    np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)  # the final LayerNorm's output
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(E, HEADS, activation="swish")


# ---- PatchEmbedding ----------------------------------------------------------------------------
def test_patch_embedding_equals_a_strided_convolution_and_gradchecks():
    ttrain.manual_seed(0)
    embed = nn.PatchEmbedding(2, 3, patch_size=2, class_token=True, dtype=np.float64)
    rng = np.random.default_rng(8)
    images = _tensor(rng, (2, 2, 4, 6))
    tokens = embed(images)
    assert tokens.shape == (2, 1 + 2 * 3, 3)
    conv = nn.functional.conv2d(images, embed.proj.weight, embed.proj.bias, stride=2)
    np.testing.assert_allclose(tokens.data[:, 1:], conv.data.reshape(2, 3, 6).transpose(0, 2, 1),
                               rtol=1e-12)
    np.testing.assert_array_equal(tokens.data[:, 0], embed.cls_token.data[0].repeat(2, 0))
    assert gradcheck(lambda x, *w: embed(x), [images, *embed.parameters()])
    with pytest.raises(ShapeError, match="multiples of patch_size"):
        embed(ttrain.zeros(1, 2, 5, 6))


# ---- configs -----------------------------------------------------------------------------------
_VIT_LAYERS = """\
model:
  layers:
    - patch_embedding: {embed_dim: 8, patch_size: 7, class_token: true}
    - learned_positional_embedding: {max_len: 17}
    - transformer_encoder: {nhead: 2, num_layers: 2, dim_feedforward: 16, norm_first: true, final_norm: true}
    - sequence_output: {mode: first}
    - linear: {out_features: 10}
data: {name: mnist, flatten: false}
"""


def test_a_layers_list_builds_a_vision_transformer_with_every_size_inferred(tmp_path):
    path = tmp_path / "vit.yaml"
    path.write_text(_VIT_LAYERS)
    model = build_layers(load_config(path)[0], (1, 28, 28), 10)
    names = model.state_dict()
    assert {"0.proj.weight", "0.cls_token", "1.weight", "2.layers.1.self_attn.in_proj_weight", "2.norm.weight",
            "4.weight"} <= set(names)
    assert names["0.proj.weight"].shape == (8, 1, 7, 7) and names["2.layers.0.linear1.weight"].shape == (16, 8)
    assert model(ttrain.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_a_causal_encoder_stack_never_looks_ahead():
    ttrain.manual_seed(0)
    stack = nn.TransformerEncoderStack(E, HEADS, num_layers=2, dim_feedforward=8, dropout=0.0, causal=True).eval()
    x = ttrain.randn(N, S, E)
    changed = x.data.copy()
    changed[:, -1] += 5.0  # only the last position differs
    before, after = stack(x).data, stack(ttrain.tensor(changed)).data
    np.testing.assert_allclose(after[:, :-1], before[:, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[:, -1], before[:, -1])
