"""Tiny random CLIP and DINOv2 checkpoints, built offline from the real transformers classes.

They are saved with ``save_pretrained`` and read back through the same code path as a real
checkpoint (`image_features.ClipImageExtractor`, `image_features.Dinov2Extractor`,
`clip_score.ClipScorer`), so tests and CPU smoke runs exercise the real plumbing. Their
numbers mean nothing.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.clip_tokens import CLIP_BOS, CLIP_EOS


def build_tiny_clip(
    out_dir: str | Path, *, seed: int = 0, image_size: int = 32, max_positions: int = 77
) -> Path:
    """Write a random ``CLIPModel`` + ``CLIPProcessor`` (about 60k parameters) to `out_dir`.

    The tokenizer is a real ``CLIPTokenizer`` over the 256 byte symbols (each also with the
    ``</w>`` end-of-word suffix) and no merges, so every character is one token and a caption of
    about 75 characters already reaches the 77-token limit. BOS and EOS get the two highest ids,
    as in OpenAI's vocabulary, and the text config's ``eos_token_id`` is the EOS id.
    """
    import torch
    from tokenizers import pre_tokenizers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": len(alphabet) + i for i, c in enumerate(alphabet)})
    vocab[CLIP_BOS] = len(vocab)
    vocab[CLIP_EOS] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": max_positions,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    return out


def build_tiny_dinov2(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Write a random ``Dinov2Model`` (hidden 32, 2 layers, patch 14) to `out_dir`.

    DINOv2 interpolates its position embeddings, so it takes dgm-eval's 224x224 input as is.
    """
    import torch
    from transformers import Dinov2Config, Dinov2Model

    config = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        mlp_ratio=2,
        image_size=28,
        patch_size=14,
    )
    torch.manual_seed(seed)
    model = Dinov2Model(config).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    return out


def build_tiny_inception_torchscript(out_path: str | Path, *, seed: int = 0) -> Path:
    """Write a random TorchScript stand-in for clean-fid's ``inception-2015-12-05.pt``.

    It has the interface clean-fid and `image_features.InceptionExtractor` use: a ``layers``
    submodule mapping normalised 299x299 input to (N, 2048, 1, 1), and
    ``forward(x, return_features=True)`` that resizes raw [0, 255] input to 299 inside (bilinear
    here, TF1-style in the real file), normalises with ``(x - 128) / 128`` and runs ``layers``.
    Only the plumbing is real; the features mean nothing.
    """
    import torch
    from torch import nn

    class TinyInceptionLayers(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 32, kernel_size=8, stride=8)
            self.expand = nn.Conv2d(32, 2048, kernel_size=1)
            self.pool = nn.AdaptiveAvgPool2d(1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pool(torch.relu(self.expand(torch.relu(self.stem(x)))))

    class TinyInception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = TinyInceptionLayers()

        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            features = self.layers((x - 128) / 128)
            return features if return_features else features.flatten(1)

    torch.manual_seed(seed)
    scripted = torch.jit.script(TinyInception().eval())
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(out))
    return out
