"""Parity with PyTorch for MultiheadAttention, the Transformer encoder and decoder layers and
PatchEmbedding: outputs, attention weights and every gradient (inputs and weights) on the same
weights, with key-padding and causal masks; state dicts load both ways. Skipped without torch."""

import numpy as np
import pytest

import ttrain
from ttrain import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

N, L, S, E, HEADS = 3, 5, 6, 8, 2


def _to_torch(ours, theirs):
    """Load our state dict into the torch module (strict: same names and layouts)."""
    theirs.load_state_dict({k: torch.from_numpy(v.data.copy()) for k, v in ours.state_dict().items()}, strict=True)
    return theirs


def _masks(target, source):
    padding = np.zeros((N, source), dtype=bool)
    padding[1, -2:] = True
    padding[2, -1] = True
    causal = np.triu(np.ones((target, source), dtype=bool), k=1)
    return padding, causal


def _compare(ours_out, theirs_out, ours_inputs, theirs_inputs, ours_module, theirs_module, rng):
    """Same outputs; then backward of the same random weighting: same input and parameter gradients."""
    assert len(ours_out) == len(theirs_out)
    total, theirs_total = 0, 0
    for o, t in zip(ours_out, theirs_out):
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
        w = rng.standard_normal(o.shape)
        total = total + (o * ttrain.tensor(w)).sum()
        theirs_total = theirs_total + (t * torch.tensor(w)).sum()
    total.backward()
    theirs_total.backward()
    for x, tx in zip(ours_inputs, theirs_inputs):
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    theirs_params = dict(theirs_module.named_parameters())
    for name, p in ours_module.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


def _pair(rng, shape):
    array = rng.standard_normal(shape)
    return ttrain.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
@pytest.mark.parametrize("average", [True, False])
def test_self_attention_matches_torch(batch_first, masks, average):
    ttrain.manual_seed(0)
    ours = nn.MultiheadAttention(E, HEADS, batch_first=batch_first, dtype=np.float64)
    theirs = _to_torch(ours, tnn.MultiheadAttention(E, HEADS, batch_first=batch_first, dtype=torch.float64))
    rng = np.random.default_rng(0)
    x, tx = _pair(rng, (N, L, E) if batch_first else (L, N, E))
    kwargs, tkwargs = {"average_attn_weights": average}, {"average_attn_weights": average}
    if masks != "none":
        padding, causal = _masks(L, L)
        if masks == "float":
            padding, causal = (np.where(m, -np.inf, rng.standard_normal(m.shape)) for m in (padding, causal))
        kwargs.update(key_padding_mask=padding, attn_mask=causal)
        tkwargs.update(key_padding_mask=torch.tensor(padding), attn_mask=torch.tensor(causal))
    out = ours(x, x, x, **kwargs)
    tout = theirs(tx, tx, tx, **tkwargs)
    _compare(out, tout, [x], [tx], ours, theirs, rng)


def test_cross_attention_with_kdim_vdim_and_per_head_masks_matches_torch():
    ttrain.manual_seed(1)
    ours = nn.MultiheadAttention(E, HEADS, kdim=3, vdim=5, dtype=np.float64)
    theirs = _to_torch(ours, tnn.MultiheadAttention(E, HEADS, kdim=3, vdim=5, dtype=torch.float64))
    rng = np.random.default_rng(1)
    (q, tq), (k, tk), (v, tv) = _pair(rng, (L, N, E)), _pair(rng, (S, N, 3)), _pair(rng, (S, N, 5))
    padding, _ = _masks(L, S)
    per_head = rng.random((N * HEADS, L, S)) < 0.3
    per_head[..., 0] = False  # every query keeps one key
    out = ours(q, k, v, key_padding_mask=padding, attn_mask=per_head)
    tout = theirs(tq, tk, tv, key_padding_mask=torch.tensor(padding), attn_mask=torch.tensor(per_head))
    _compare(out, tout, [q, k, v], [tq, tk, tv], ours, theirs, rng)


def test_unbatched_attention_and_the_causal_mask_helper_match_torch():
    ttrain.manual_seed(2)
    ours = nn.MultiheadAttention(E, HEADS, bias=False, dtype=np.float64)
    theirs = _to_torch(ours, tnn.MultiheadAttention(E, HEADS, bias=False, dtype=torch.float64))
    rng = np.random.default_rng(2)
    x, tx = _pair(rng, (L, E))
    mask = nn.generate_square_subsequent_mask(L, dtype=np.float64)
    tmask = tnn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    np.testing.assert_array_equal(mask.data, tmask.numpy())
    _compare(ours(x, x, x, attn_mask=mask), theirs(tx, tx, tx, attn_mask=tmask), [x], [tx], ours, theirs, rng)


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu"), (False, "gelu")])
@pytest.mark.parametrize("batch_first", [False, True])
def test_two_layer_encoder_with_padding_and_causal_masks_matches_torch(norm_first, activation, batch_first):
    ttrain.manual_seed(3)
    layer = nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                                       batch_first=batch_first, dtype=np.float64)
    ours = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E, dtype=np.float64))
    tlayer = tnn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, activation=activation, norm_first=norm_first,
                                         batch_first=batch_first, dtype=torch.float64)
    theirs = _to_torch(ours, tnn.TransformerEncoder(tlayer, 2, norm=tnn.LayerNorm(E, dtype=torch.float64),
                                                    enable_nested_tensor=False))
    rng = np.random.default_rng(3)
    x, tx = _pair(rng, (N, L, E) if batch_first else (L, N, E))
    padding, _ = _masks(L, L)
    tcausal = tnn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    out = ours(x, src_key_padding_mask=padding, is_causal=True)
    tout = theirs(tx, mask=tcausal, src_key_padding_mask=torch.tensor(np.where(padding, -np.inf, 0.0)),
                  is_causal=True)
    _compare([out], [tout], [x], [tx], ours, theirs, rng)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    ttrain.manual_seed(4)
    ours = nn.TransformerDecoderLayer(E, HEADS, 16, dropout=0.0, norm_first=norm_first, batch_first=True,
                                      dtype=np.float64)
    theirs = _to_torch(ours, tnn.TransformerDecoderLayer(E, HEADS, 16, dropout=0.0, norm_first=norm_first,
                                                         batch_first=True, dtype=torch.float64))
    rng = np.random.default_rng(4)
    (t, tt), (m, tm) = _pair(rng, (N, L, E)), _pair(rng, (N, S, E))
    padding, _ = _masks(L, S)
    tcausal = tnn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    out = ours(t, m, tgt_is_causal=True, memory_key_padding_mask=padding)
    tout = theirs(tt, tm, tgt_mask=tcausal, tgt_is_causal=True,
                  memory_key_padding_mask=torch.tensor(np.where(padding, -np.inf, 0.0)))
    _compare([out], [tout], [t, m], [tt, tm], ours, theirs, rng)


def test_torch_state_dicts_load_into_ttrain_layers():
    torch.manual_seed(0)
    theirs = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0), 2,
                                    enable_nested_tensor=False).double().eval()
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, dtype=np.float64), 2).eval()
    ours.load_state_dict({k: ttrain.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((L, N, E))
    np.testing.assert_allclose(ours(ttrain.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_patch_embedding_matches_a_torch_strided_conv():
    ttrain.manual_seed(5)
    ours = nn.PatchEmbedding(1, 6, patch_size=4, dtype=np.float64)

    class Patches(tnn.Module):  # timm's PatchEmbed: the conv, flattened to tokens
        def __init__(self) -> None:
            super().__init__()
            self.proj = tnn.Conv2d(1, 6, 4, stride=4, dtype=torch.float64)

        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)

    theirs = _to_torch(ours, Patches())
    rng = np.random.default_rng(6)
    x, tx = _pair(rng, (2, 1, 8, 12))
    _compare([ours(x)], [theirs(tx)], [x], [tx], ours, theirs, rng)
