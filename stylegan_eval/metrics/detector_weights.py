"""What a feature detector runs with (weights file, sha256, resize mode, random initialisation), without torch."""

from __future__ import annotations

from dataclasses import dataclass, field

#: How a detector's weights were accepted (reports record it as ``weights_verified``).
VERIFIED_SHA256, VERIFIED_FUNCTIONAL, UNVERIFIED_TRUSTED, RANDOM_INIT = (
    "sha256",
    "functional",
    "unverified-trusted",
    "random",
)


@dataclass
class DetectorWeights:
    """The weights a detector runs with.

    Attributes:
        name: 'pytorch-fid' or 'nvidia'.
        resize: 'detector' or 'clean'.
        weights_file: the file's path, or None at random initialisation.
        weights_sha256: the file's full sha256, or a label of the random initialisation.
        random_weights: names of the networks that run at random initialisation.
        verified: how the weights were accepted: 'sha256' (byte-identical to a pinned file),
            'functional' (the network built from them reproduces the pinned probe outputs),
            'unverified-trusted' (accepted unchecked: ``verify=False``, ``--trust-weights``) or
            'random' (no file).
    """

    name: str
    resize: str
    weights_file: str | None = None
    weights_sha256: str | None = None
    random_weights: list[str] = field(default_factory=list)
    verified: str | None = None

    def describe(self) -> dict[str, object]:
        """Name, weights file and hash, resize mode: what the report and the stats cache key need."""
        return {
            "detector": self.name,
            "weights_file": self.weights_file,
            "weights_sha256": self.weights_sha256,
            "resize": self.resize,
            "random_weights": bool(self.random_weights),
            "weights_verified": self.verified or (RANDOM_INIT if self.random_weights else UNVERIFIED_TRUSTED),
        }
