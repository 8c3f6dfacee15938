"""A tiny random Mask2Former checkpoint for GenEval's path tests, from the real config classes.

`build_tiny_mask2former` writes a ``Mask2FormerForUniversalSegmentation`` with a 2-stage Swin
backbone, 8 queries and the given class names as ``id2label``, and its
``Mask2FormerImageProcessor`` (64 x 64 inputs), with ``save_pretrained``; it is loaded back with
``from_pretrained`` like a real checkpoint. Random weights: for the code path, not for numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def build_tiny_mask2former(
    out_dir: str | Path, classes: Sequence[str], *, seed: int = 0, image_size: int = 64
) -> Path:
    """Save a random tiny Mask2Former + image processor to `out_dir`; returns it."""
    import torch
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    backbone = SwinConfig(
        image_size=image_size,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 2, 2],
        window_size=4,
        out_features=["stage1", "stage2", "stage3", "stage4"],  # type: ignore[call-arg]
    )
    config = Mask2FormerConfig(
        backbone_config=backbone,
        use_pretrained_backbone=False,  # type: ignore[call-arg]
        num_queries=8,
        hidden_dim=32,
        mask_feature_size=32,
        feature_size=32,
        encoder_feedforward_dim=32,
        dim_feedforward=32,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=2,
        common_stride=4,
        train_num_points=16,
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
    )
    torch.manual_seed(seed)
    model = Mask2FormerForUniversalSegmentation(config).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    Mask2FormerImageProcessor(
        size={"height": image_size, "width": image_size}, size_divisor=32
    ).save_pretrained(out)
    return out
