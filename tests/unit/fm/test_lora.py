"""LoRA on the backbone: identity at start, only LoRA factors train, merge keeps outputs, bad config named."""

import pytest
import torch

from airan.core.errors import ConfigError
from airan.fm.lora import LoraConfig, apply_lora, count_params, lora_parameters, merge_lora
from airan.fm.model import CsiMAE, fm_config
from airan.fm.tokenizer import tokenize


def _batch():
    g = torch.Generator().manual_seed(0)
    h = torch.complex(torch.randn(3, 8, 4, 16, generator=g), torch.randn(3, 8, 4, 16, generator=g))
    tok = tokenize(h, fm_config("tiny").patch)
    masked = torch.zeros(3, tok.x.shape[1], dtype=torch.bool)
    masked[:, ::3] = True
    return tok.x, tok.pos, masked


def test_lora_starts_as_identity_and_only_lora_trains():
    torch.manual_seed(0)
    model = CsiMAE(fm_config("tiny"))
    x, pos, masked = _batch()
    model.eval()
    with torch.no_grad():
        before = model(x, pos, masked)
    total0, _ = count_params(model)
    added = apply_lora(model.encoder, rank=4, alpha=8.0)
    with torch.no_grad():
        after = model(x, pos, masked)
    assert torch.allclose(before, after, atol=1e-6)
    total, trainable = count_params(model)
    assert added > 0 and total == total0 + added
    assert trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    lora = {id(p) for p in lora_parameters(model)}
    # the encoder is frozen except its LoRA factors; the rest of the model was not touched
    assert all(id(p) in lora for p in model.encoder.parameters() if p.requires_grad)
    assert sum(p.numel() for p in lora_parameters(model)) == added
    # every attention block got its packed q/k/v weight adapted, and the MLP + out projections too
    layer = model.encoder.layers[0]
    assert hasattr(layer.self_attn, "parametrizations") and "in_proj_weight" in layer.self_attn.parametrizations
    assert "weight" in layer.linear1.parametrizations and "weight" in layer.self_attn.out_proj.parametrizations

    base = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if "original" in n}
    model.train()
    opt = torch.optim.SGD([p for p in model.encoder.parameters() if p.requires_grad], lr=0.1)
    loss = model(x, pos, masked).pow(2).mean()
    loss.backward()
    opt.step()
    for n, p in model.encoder.named_parameters():
        if "original" in n:
            assert torch.equal(p, base[n]), n  # the pretrained weights did not move
    model.eval()
    with torch.no_grad():
        trained = model(x, pos, masked)
    assert not torch.allclose(trained, before, atol=1e-5)  # the LoRA factors did change the function

    assert merge_lora(model.encoder) == 4 * len(model.encoder.layers)  # in_proj, out_proj, linear1, linear2
    assert not list(lora_parameters(model))
    with torch.no_grad():
        merged = model(x, pos, masked)
    assert torch.allclose(merged, trained, atol=1e-5)


def test_lora_config_errors_name_the_value():
    with pytest.raises(ConfigError, match="0"):
        LoraConfig(rank=0)
    with pytest.raises(ConfigError, match="-1.0"):
        LoraConfig(rank=4, alpha=-1.0)
    with pytest.raises(ConfigError, match="Embedding"):
        apply_lora(torch.nn.Embedding(4, 4))
    enc = CsiMAE(fm_config("tiny")).encoder
    apply_lora(enc, 2, 4.0)
    with pytest.raises(ConfigError, match="already"):
        apply_lora(enc, 2, 4.0)
