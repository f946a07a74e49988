"""DINOv2 / CLIP detectors: the libraries' own preprocessing, weights loading, FD of identical sets, separate cache keys."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan_eval.errors import WeightsUnavailable
from stylegan_eval.metrics.inception import make_detector
from stylegan_eval.metrics.modern_detectors import ModernDetector, preprocess_clip, preprocess_dinov2

sys.path.insert(0, str(Path(__file__).parent))

TINY_VIT = {"depth": 1, "embed_dim": 16, "num_heads": 2}
TINY_CLIP = {"layers": 1, "width": 64, "head_width": 32}


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (1, 3, h, w), dtype=np.uint8))


def test_dinov2_preprocessing_equals_timm_transform():
    import timm
    from PIL import Image

    model = ModernDetector("dinov2-vitl14", allow_random=True, arch_kwargs=TINY_VIT).build("meta")
    cfg = timm.data.resolve_data_config({"input_size": (3, 224, 224)}, model=model)
    assert cfg["interpolation"] == "bicubic" and cfg["crop_pct"] == 1.0
    transform = timm.data.create_transform(**cfg)
    x = _image(97, 97)
    ours = preprocess_dinov2(x)[0]
    ref = transform(x[0].float() / 255)  # the same float tensor through timm's pipeline
    assert torch.allclose(ours, ref, atol=1e-6)
    x224 = _image(224, 224, 1)  # PIL input (no resize needed): timm's ToTensor path
    ref_pil = transform(Image.fromarray(x224[0].permute(1, 2, 0).numpy()))
    assert torch.allclose(preprocess_dinov2(x224)[0], ref_pil, atol=1e-6)


def test_clip_preprocessing_equals_open_clip_preprocess():
    import open_clip
    from PIL import Image

    transform = open_clip.image_transform(
        224, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN, std=open_clip.OPENAI_DATASET_STD
    )
    x = _image(90, 131)  # non-square: shorter side to 224, centre crop
    assert torch.allclose(preprocess_clip(x)[0], transform(x[0].float() / 255), atol=1e-6)
    x224 = _image(224, 224, 2)
    ref_pil = transform(Image.fromarray(x224[0].permute(1, 2, 0).numpy()))
    assert torch.allclose(preprocess_clip(x224)[0], ref_pil, atol=1e-6)


def test_real_architectures_build_on_the_meta_device():
    vitl = ModernDetector("dinov2-vitl14", allow_random=True).build("meta")
    assert vitl.pos_embed.shape == (1, 16 * 16 + 1, 1024) and len(vitl.blocks) == 24
    assert 300e6 < sum(p.numel() for p in vitl.parameters()) < 310e6
    clip = ModernDetector("clip-vitb32", allow_random=True).build("meta")
    assert clip.output_dim == 512 and clip.conv1.kernel_size == (32, 32)


def test_weights_are_required_unless_random_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailable, match="dinov2_vitl14_pretrain.pth"):
        make_detector("dinov2-vitl14")
    with pytest.raises(WeightsUnavailable, match="ViT-B-32.pt"):
        make_detector("clip-vitb32")
    det = make_detector("clip-vitb32", allow_random=True)
    assert det.random_weights and det.describe()["weights_sha256"].startswith("random-init")


def test_dinov2_checkpoint_in_meta_format_loads(tmp_path):
    ref = ModernDetector("dinov2-vitl14", allow_random=True, arch_kwargs=TINY_VIT)
    sd = {k: v.clone() for k, v in ref.net.state_dict().items()}
    sd["mask_token"] = torch.zeros(1, TINY_VIT["embed_dim"])  # Meta's file has it; the encoder does not use it
    torch.save(sd, tmp_path / "dinov2.pth")
    det = ModernDetector("dinov2-vitl14", weights_path=tmp_path / "dinov2.pth", arch_kwargs=TINY_VIT)
    x = _image(40, 40)
    assert not det.random_weights and torch.allclose(det(x), ref(x), atol=1e-6)
    assert det.describe()["weights_sha256"] != ref.describe()["weights_sha256"]


def test_fd_of_identical_sets_is_zero():
    from eq_toys import BandLimitedGenerator

    from stylegan_eval.metrics.features import FeatureStats, generator_features
    from stylegan_eval.metrics.modern_detectors import frechet_distance_in

    det = ModernDetector("dinov2-vitl14", allow_random=True, arch_kwargs=TINY_VIT)
    g = BandLimitedGenerator(16)
    real = FeatureStats.from_features(generator_features(g, det, 40, batch_size=8, show_progress=False))
    res = frechet_distance_in(g, real, num_samples=40, batch_size=8, detector=det)
    assert abs(res.value) < 1e-6 and res.name == "fd_dinov2_40" and res.random_weights


def test_statistics_cache_separates_detectors(tmp_path):
    from PIL import Image

    from stylegan_eval.metrics.features import dataset_stats

    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        Image.fromarray(_image(24, 24, i)[0].permute(1, 2, 0).numpy()).save(data / f"{i}.png")
    cache = tmp_path / "cache"
    dino = ModernDetector("dinov2-vitl14", allow_random=True, arch_kwargs=TINY_VIT)
    clip = ModernDetector("clip-vitb32", allow_random=True, arch_kwargs=TINY_CLIP)
    s1, i1 = dataset_stats(data, dino, cache_dir=cache, show_progress=False)
    s2, i2 = dataset_stats(data, clip, cache_dir=cache, show_progress=False)
    s3, i3 = dataset_stats(data, dino, cache_dir=cache, show_progress=False)
    assert not i1.cache_hit and not i2.cache_hit and i3.cache_hit
    assert i1.cache_file != i2.cache_file and i1.cache_file == i3.cache_file
    assert s1.dim == 16 and s2.dim == 512 and np.array_equal(s1.mu, s3.mu)
