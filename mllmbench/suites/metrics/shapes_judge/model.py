"""The Shapes judge network, saved and loaded like a transformers model.

The image is resized to ``input_size`` (bilinear), scaled to [0, 1], and read by four 3x3
convolutions (three of stride 2) and an average pool into a ``grid x grid`` map: one feature
vector per cell of the Shapes grid. Per cell a 1x1 head predicts the shape (``empty`` or one of
`config.shapes`), the colour (one of `config.colors`) and the shape's box: its centre as an
offset inside the cell and its half width and half height, as fractions of the image side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

EMPTY = "empty"


class ShapesJudgeConfig(PretrainedConfig):
    """Sizes and label names of the judge."""

    model_type = "mllmbench_shapes_judge"

    def __init__(
        self,
        input_size: int = 96,
        grid: int = 3,
        channels: tuple[int, ...] | list[int] = (16, 32, 64, 64),
        shapes: tuple[str, ...] | list[str] = ("circle", "square", "triangle", "diamond", "star"),
        colors: tuple[str, ...] | list[str] = ("red", "orange", "yellow", "green", "blue", "purple"),
        max_radius: float = 0.25,
        **kwargs: Any,
    ) -> None:
        self.input_size = int(input_size)
        self.grid = int(grid)
        self.channels = [int(c) for c in channels]
        self.shapes = [str(s) for s in shapes]
        self.colors = [str(c) for c in colors]
        self.max_radius = float(max_radius)
        super().__init__(**kwargs)

    @property
    def shape_labels(self) -> list[str]:
        """``empty`` then the shapes: the classes of the shape head."""
        return [EMPTY, *self.shapes]


@dataclass
class ShapesJudgeOutput(ModelOutput):
    """Per-cell predictions; cells in reading order (row-major)."""

    shape_logits: torch.Tensor | None = None
    """B x cells x (1 + shapes)."""
    color_logits: torch.Tensor | None = None
    """B x cells x colours."""
    boxes: torch.Tensor | None = None
    """B x cells x 4: centre x, centre y, half width, half height, as fractions of the image side."""
    features: torch.Tensor | None = None
    """B x (2 x last channels): mean and max of the cell features."""


class ShapesJudgeModel(PreTrainedModel):
    """The judge: a small convolutional backbone with per-cell heads."""

    config_class = ShapesJudgeConfig
    base_model_prefix = "judge"
    main_input_name = "pixel_values"

    def __init__(self, config: ShapesJudgeConfig) -> None:
        super().__init__(config)
        layers: list[nn.Module] = []
        c_in = 3
        for i, c_out in enumerate(config.channels):
            stride = 2 if i < len(config.channels) - 1 else 1
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU()]
            c_in = c_out
        self.backbone = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(config.grid)
        self.n_shapes = 1 + len(config.shapes)
        self.n_colors = len(config.colors)
        self.head = nn.Conv2d(c_in, self.n_shapes + self.n_colors + 4, 1)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def cell_centres(self, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Column and row index of every cell, row-major."""
        g = self.config.grid
        idx = torch.arange(g * g, device=device)
        return (idx % g).to(dtype), (idx // g).to(dtype)

    def forward(self, pixel_values: torch.Tensor, **kwargs: Any) -> ShapesJudgeOutput:
        """`pixel_values`: B x 3 x input_size x input_size in [0, 1]."""
        cells = self.pool(self.backbone(pixel_values))  # B x C x g x g
        flat = cells.flatten(2)  # B x C x g*g
        out = self.head(cells).flatten(2).transpose(1, 2)  # B x g*g x K
        shape_logits = out[..., : self.n_shapes]
        color_logits = out[..., self.n_shapes : self.n_shapes + self.n_colors]
        raw = out[..., self.n_shapes + self.n_colors :]
        col, row = self.cell_centres(out.device, out.dtype)
        g = self.config.grid
        cx = (col + torch.sigmoid(raw[..., 0])) / g
        cy = (row + torch.sigmoid(raw[..., 1])) / g
        half = torch.sigmoid(raw[..., 2:4]) * self.config.max_radius
        features = torch.cat([flat.mean(-1), flat.amax(-1)], dim=1)
        return ShapesJudgeOutput(
            shape_logits=shape_logits,
            color_logits=color_logits,
            boxes=torch.cat([cx[..., None], cy[..., None], half], dim=-1),
            features=features,
        )


def preprocess(images: list[Any], size: int) -> torch.Tensor:
    """PIL images or H x W x 3 uint8 arrays -> B x 3 x size x size float tensor in [0, 1]."""
    import numpy as np
    from PIL import Image

    arrays = []
    for im in images:
        pil = im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, dtype=np.uint8))
        pil = pil.convert("RGB")
        if pil.size != (size, size):
            pil = pil.resize((size, size), Image.Resampling.BILINEAR)
        arrays.append(np.asarray(pil, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
