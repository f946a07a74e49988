"""Image sizes of the real data against the generated images' (torch-free).

NVIDIA's metrics tie the dataset to the generator's resolution (``dataset_tool.py`` resizes it
first): a dataset of another size, or of mixed sizes, still gives a number here (every image is
resized by the detector on its own), but not the published protocol's. :func:`size_warning`
names the sizes and the resize applied; ``strict`` turns it into an error (``--strict-data``).
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import ArgumentError

#: How each detector resizes its input (``resize='detector'``); 'clean' replaces it for every detector.
DETECTOR_RESIZE = {
    "pytorch-fid": "bilinear to 299x299",
    "nvidia": "TensorFlow-style bilinear to 299x299",
    "vgg16": "area/bilinear to 224x224",
    "dinov2-vitl14": "bicubic to 224x224",
    "clip-vitb32": "bicubic to 224x224",
}
CLEAN_RESIZE = "antialiased bicubic to 299x299 (clean)"
#: Sizes named in the warning; more are counted.
MAX_LISTED = 4


def resize_applied(detector: Any) -> str:
    """Words for the resize the detector applies to every image."""
    if getattr(detector, "resize", "detector") == "clean":
        return CLEAN_RESIZE
    name = str(getattr(detector, "name", detector))
    return DETECTOR_RESIZE.get(name, "the detector's own resize")


def _listed(sizes: Mapping[str, int]) -> str:
    ordered = sorted(sizes.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{s} ({n})" for s, n in ordered[:MAX_LISTED])
    return text + (f" and {len(ordered) - MAX_LISTED} more sizes" if len(ordered) > MAX_LISTED else "")


def size_warning(
    real_sizes: Mapping[str, int] | None,
    gen_sizes: Mapping[str, int] | None,
    detector: Any,
    strict: bool = False,
) -> str | None:
    """One warning line when the real images' sizes differ from the generated ones' or are mixed, else None.

    Args:
        real_sizes: ``{"HxW": count}`` of the real images (None: unknown, e.g. a statistics file).
        gen_sizes: ``{"HxW": count}`` of the generated images (a generator: its one size).
        detector: the feature detector (its ``name`` and ``resize`` name the resize applied).
        strict: raise instead of returning the warning.

    Raises:
        ArgumentError: naming ``strict_data``, when ``strict`` and the sizes differ.
    """
    if not real_sizes or not gen_sizes:
        return None
    if len(real_sizes) == 1 and set(real_sizes) == set(gen_sizes):
        return None
    gen = _listed(gen_sizes) if len(gen_sizes) > 1 else next(iter(gen_sizes))
    what = "of mixed sizes" if len(real_sizes) > 1 else "of another size"
    text = (
        f"real images {what}: {_listed(real_sizes)}, generated {gen}; each image is resized as it is by the "
        f"detector ({resize_applied(detector)}), unlike NVIDIA's protocol, which resizes the dataset to the "
        "generator's resolution first"
    )
    if strict:
        raise ArgumentError("strict_data", f"strict_data: {text}", hint="resize the dataset to the generator's size")
    return text + " (--strict-data refuses)"


def generator_sizes(generator: Any, num: int) -> dict[str, int] | None:
    """``{"HxW": num}`` for a generator, the images' own sizes for generated images, None when unknown."""
    sizes = getattr(generator, "sizes", None)
    if sizes:
        return dict(sizes)
    res = getattr(generator, "resolution", None)
    if getattr(generator, "family", None) == "images" or not isinstance(res, int):
        return None
    return {f"{res}x{res}": num}
