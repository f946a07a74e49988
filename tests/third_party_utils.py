"""Checkpoints of third-party StyleGAN packages in their on-disk layout (key names and shapes),
built without importing the packages: stylegan2-torch's state dict and lucidrains' ``GAN`` dict."""

from __future__ import annotations

import itertools
import math

import torch

from stylegan_eval.networks import ops

#: stylegan2-torch's mapping learning-rate multiplier (its weights are stored divided by it).
LR = 0.01


def sg2torch_state(res=16, latent=8, n_mlp=2, channels=None, seed=0) -> dict[str, torch.Tensor]:
    """A random generator state dict with stylegan2-torch's key names and shapes (Generator.state_dict())."""
    channels = channels or {4: 8, 8: 8, 16: 4}
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    k = ops.make_kernel([1, 3, 3, 1]) * 4
    sd = {}
    for i in range(1, n_mlp + 1):
        sd[f"mapping.{i}.weight"] = r(latent, latent) / LR
        sd[f"mapping.{i}.bias"] = r(latent, scale=10)
    sd["input.input"] = r(1, channels[4], 4, 4)
    for layer in range(2, int(math.log2(res)) + 1):
        c, j = channels[2**layer], layer - 2
        if layer > 2:
            cp = channels[2 ** (layer - 1)]
            sd.update(
                {
                    f"up_convs.{j - 1}.affine.weight": r(cp, latent),
                    f"up_convs.{j - 1}.affine.bias": 1 + r(cp, scale=0.1),
                    f"up_convs.{j - 1}.weight": r(1, c, cp, 3, 3),
                    f"up_convs.{j - 1}.blur.kernel": k.clone(),
                    f"up_convs.{j - 1}.add_noise.weight": r(1),
                    f"up_convs.{j - 1}.leaky_relu.bias": r(c, scale=0.1),
                }
            )
        sd.update(
            {
                f"convs.{j}.affine.weight": r(c, latent),
                f"convs.{j}.affine.bias": 1 + r(c, scale=0.1),
                f"convs.{j}.weight": r(1, c, c, 3, 3),
                f"convs.{j}.add_noise.weight": r(1),
                f"convs.{j}.leaky_relu.bias": r(c, scale=0.1),
                f"to_rgbs.{j}.affine.weight": r(c, latent),
                f"to_rgbs.{j}.affine.bias": 1 + r(c, scale=0.1),
                f"to_rgbs.{j}.weight": r(1, 1, c, 1, 1),
                f"to_rgbs.{j}.bias": r(1, 1, 1, 1, scale=0.1),
            }
        )
        if layer > 2:
            sd[f"to_rgbs.{j}.upsample.kernel"] = k.clone()
    return sd


def lucidrains_state(
    size=16, latent=8, capacity=2, depth=2, seed=0, rgba=False, attn_blocks=(), no_const=False
) -> dict[str, torch.Tensor]:
    """{'S.*', 'G.*', 'SE.*', 'GE.*', 'D.*', 'D_aug.D.*'} with stylegan2-pytorch's key names and shapes."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=g) * scale

    num_layers = int(math.log2(size) - 1)
    filters = [min(512, capacity * 2 ** (i + 1)) for i in range(num_layers)][::-1]
    filters = [filters[0], *filters]
    out_c = 4 if rgba else 3
    gan = {}
    for prefix in ("S", "SE"):
        for i in range(depth):
            gan[f"{prefix}.net.{2 * i}.weight"] = r(latent, latent)
            gan[f"{prefix}.net.{2 * i}.bias"] = r(latent)
    for prefix in ("G", "GE"):
        if no_const:
            gan[f"{prefix}.to_initial_block.weight"] = r(latent, filters[0], 4, 4, scale=0.5)
        else:
            gan[f"{prefix}.initial_block"] = r(1, filters[0], 4, 4)
        gan[f"{prefix}.initial_conv.weight"] = r(filters[0], filters[0], 3, 3, scale=0.2)
        gan[f"{prefix}.initial_conv.bias"] = r(filters[0], scale=0.1)
        for i, (ci, co) in enumerate(itertools.pairwise(filters)):
            b = f"{prefix}.blocks.{i}"
            gan.update(
                {
                    f"{b}.to_style1.weight": r(ci, latent, scale=0.3),
                    f"{b}.to_style1.bias": r(ci, scale=0.1),
                    f"{b}.to_noise1.weight": r(co, 1),
                    f"{b}.to_noise1.bias": r(co, scale=0.1),
                    f"{b}.conv1.weight": r(co, ci, 3, 3),
                    f"{b}.to_style2.weight": r(co, latent, scale=0.3),
                    f"{b}.to_style2.bias": r(co, scale=0.1),
                    f"{b}.to_noise2.weight": r(co, 1),
                    f"{b}.to_noise2.bias": r(co, scale=0.1),
                    f"{b}.conv2.weight": r(co, co, 3, 3),
                    f"{b}.to_rgb.to_style.weight": r(co, latent, scale=0.3),
                    f"{b}.to_rgb.to_style.bias": r(co, scale=0.1),
                    f"{b}.to_rgb.conv.weight": r(out_c, co, 1, 1, scale=0.1),
                }
            )
            if i != num_layers - 1:
                gan[f"{b}.to_rgb.upsample.1.f"] = torch.tensor([1.0, 2.0, 1.0])
            if i in attn_blocks:  # attn_and_ff(ci): 8 heads x 64, depthwise kv conv, 2x 1x1-conv MLP
                a = f"{prefix}.attns.{i}"
                gan.update(
                    {
                        f"{a}.0.fn.norm.g": 1 + r(1, ci, 1, 1, scale=0.1),
                        f"{a}.0.fn.norm.b": r(1, ci, 1, 1, scale=0.1),
                        f"{a}.0.fn.fn.to_q.weight": r(512, ci, 1, 1, scale=0.5),
                        f"{a}.0.fn.fn.to_kv.net.0.weight": r(ci, 1, 3, 3, scale=0.3),
                        f"{a}.0.fn.fn.to_kv.net.1.weight": r(1024, ci, 1, 1, scale=0.5),
                        f"{a}.0.fn.fn.to_out.weight": r(ci, 512, 1, 1, scale=0.1),
                        f"{a}.0.fn.fn.to_out.bias": r(ci, scale=0.1),
                        f"{a}.1.fn.norm.g": 1 + r(1, ci, 1, 1, scale=0.1),
                        f"{a}.1.fn.norm.b": r(1, ci, 1, 1, scale=0.1),
                        f"{a}.1.fn.fn.0.weight": r(2 * ci, ci, 1, 1, scale=0.3),
                        f"{a}.1.fn.fn.0.bias": r(2 * ci, scale=0.1),
                        f"{a}.1.fn.fn.2.weight": r(ci, 2 * ci, 1, 1, scale=0.3),
                        f"{a}.1.fn.fn.2.bias": r(ci, scale=0.1),
                    }
                )
    for prefix in ("D", "D_aug.D"):
        gan[f"{prefix}.blocks.0.conv_res.weight"] = r(4, out_c, 1, 1)
        gan[f"{prefix}.to_logit.weight"] = r(1, 8)
    return gan
