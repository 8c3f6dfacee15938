"""Mllama (Llama 3.2 Vision): a tiled ViT whose features cross-attention layers inside a Llama 3 read.

Loads any ``MllamaForConditionalGeneration`` checkpoint (``meta-llama/Llama-3.2-11B-Vision-Instruct``
and the like) with its ``MllamaProcessor``. The image is cut into up to four tiles (the
``max_image_tiles`` of the processor, fixed by the supported aspect ratios), each tile is
encoded by a two-stage ViT, a linear projector maps the features to the LLM width, and
cross-attention decoder layers interleaved with the Llama 3 self-attention layers attend to them
(feature-level fusion). In the text the image is a single ``<|image|>`` token; the processor's
``cross_attention_mask`` says which text positions see which image's tiles.

Prompts come from the processor's chat template (Llama 3 headers, images first); like the
model card, the adapter tokenizes the rendered prompt with ``add_special_tokens=False`` because
the template already begins with ``<|begin_of_text|>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mllmbench.adapters.hf import HFVisionLanguageAdapter
from mllmbench.core.types import Capability, Connector

if TYPE_CHECKING:
    from PIL.Image import Image

LLAMA_32_VISION_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' + messages[0]['content'] | trim + '<|eot_id|>' }}"
    "{%- set messages = messages[1:] %}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] | trim }}"
    "{%- else %}{%- for content in message['content'] %}"
    "{%- if content['type'] == 'image' %}{{- '<|image|>' }}"
    "{%- elif content['type'] == 'text' %}{{- content['text'] | trim }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
"""The tiny checkpoint's chat template: what Llama-3.2-11B-Vision-Instruct's renders for image prompts.

``<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n<|image|>{text}<|eot_id|>``
``<|start_header_id|>assistant<|end_header_id|>\\n\\n`` (the hub template adds a dated system
block only to prompts without images, and tool-calling parts, which this one leaves out).
"""

TINY_TILE_SIZE = 32
TINY_PATCH_SIZE = 8
TINY_MAX_TILES = 4
"""``MllamaImageProcessor`` only supports the aspect ratios of four tiles."""
TINY_FEATURES_PER_TILE = (TINY_TILE_SIZE // TINY_PATCH_SIZE) ** 2 + 1
"""Vision features of one tile of the tiny model: one per patch plus the CLS feature."""
TINY_CROSS_ATTENTION_LAYERS = (1,)
"""Text layers of the tiny model that are cross-attention layers (of 2)."""
TINY_PROJECTOR_INIT_STD = 0.2
"""Spread of the tiny model's projector weights (10x the 0.02 of the other weights)."""


class MllamaAdapter(HFVisionLanguageAdapter):
    """Llama 3.2 Vision: tiled ViT -> linear projector -> cross-attention layers inside Llama 3.

    Visual tokens: each image takes one ``<|image|>`` position in ``input_ids``; that is what
    ``Usage.image_tokens`` counts. The content enters through cross-attention, so
    ``visual_tokens_per_image`` reports the number of vision features the cross-attention
    layers attend to for a 336x336 image (`probe_image_size`): the tiles it is cut into times
    the features per tile (patches + CLS). Padding tiles are masked out and not counted.

    Parameters: the ``connector`` group is the projector plus the cross-attention decoder layers
    (the layers added to the text model for the image); ``llm`` is the rest of the text model.

    Batching: batched, left-padded; images with different tile counts are padded with masked
    tiles by the processor.
    """

    name: ClassVar[str] = "mllama"
    description: ClassVar[str] = (
        "Llama 3.2 Vision (Mllama): tiled ViT, projector, cross-attention layers inside a Llama 3 LLM"
    )
    capabilities: ClassVar[Capability] = Capability.UNDERSTAND
    connector: ClassVar[Connector] = Connector.CROSS_ATTENTION
    model_class_name: ClassVar[str] = "MllamaForConditionalGeneration"

    @property
    def param_groups(self) -> dict[str, tuple[str, ...]]:  # type: ignore[override]
        """Vision model; projector and the cross-attention layers; embeddings, other layers, norm, head."""
        text = self.model.config.text_config
        cross = set(text.cross_attention_layers or ())
        layers = [f"model.language_model.layers.{i}" for i in range(text.num_hidden_layers)]
        return {
            "vision": ("model.vision_model",),
            "connector": (
                "model.multi_modal_projector",
                *(name for i, name in enumerate(layers) if i in cross),
            ),
            "llm": (
                "model.language_model.embed_tokens",
                *(name for i, name in enumerate(layers) if i not in cross),
                "model.language_model.norm",
                "lm_head",
            ),
        }

    def processor_inputs(self, prompts: list[str], images: list[list[Image]]) -> Mapping[str, Any]:
        """``processor(text=prompts, images=<one list per prompt>, add_special_tokens=False)``, padded."""
        nested = images if any(images) else None
        return self.processor(  # type: ignore[no-any-return]
            text=prompts, images=nested, add_special_tokens=False, return_tensors="pt", padding=True
        )

    def visual_tokens_per_image(self) -> int:
        """Cross-attended vision features of a `probe_image_size` image: its tiles x (patches + CLS)."""
        from PIL import Image as PILImage

        probe = PILImage.new("RGB", self.probe_image_size, (127, 127, 127))
        inputs = self.processor_inputs([self.render_prompt("?", 1)], [[probe]])
        tiles = int(inputs["aspect_ratio_mask"][0, 0].sum())
        vision = self.model.config.vision_config
        return tiles * ((vision.image_size // vision.patch_size) ** 2 + 1)

    def timed_modules(self) -> list[Any]:
        """Vision model and projector only: they encode the image once, in the first forward.

        The cross-attention layers (in the ``connector`` parameter group) run inside the LLM at
        every step, so their time belongs to the LLM's prefill and decode, not to vision.
        """
        return [
            self.model.get_submodule(name) for name in ("model.vision_model", "model.multi_modal_projector")
        ]

    def llm_backbone_name(self) -> str:
        """The text model's class (``MllamaTextModel``)."""
        return type(self.model.get_submodule("model.language_model")).__name__

    @classmethod
    def build_tiny(cls, out_dir: Path, *, seed: int = 0) -> Path:
        """Write a tiny random Mllama (about 200k parameters) and its processor to `out_dir`.

        A ViT with 2 local layers and 1 global layer on 32x32 tiles with 8x8 patches (17 features
        per tile, up to 4 tiles), the projector, and a 2-layer text model whose second layer is
        a cross-attention layer, on the offline tiny tokenizer with Llama 3's special tokens and
        `LLAMA_32_VISION_CHAT_TEMPLATE`. Two changes to the default initialisation make the
        answers depend on the image: the cross-attention gates, zero in Mllama (image shut out),
        are set to one, and the projector is drawn with `TINY_PROJECTOR_INIT_STD` instead of
        0.02 (otherwise the cross-attention adds a tenth of the residual stream and six
        different images give the same greedy answer).
        """
        import torch
        from transformers import (
            MllamaConfig,
            MllamaForConditionalGeneration,
            MllamaImageProcessor,
            MllamaProcessor,
        )

        from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(
            bos_token="<|begin_of_text|>",
            eos_token="<|eot_id|>",
            pad_token="<|finetune_right_pad_id|>",
            unk_token=None,
            extra_special_tokens={
                "image_token": "<|image|>",
                "end_of_text_token": "<|end_of_text|>",
                "start_header_token": "<|start_header_id|>",
                "end_header_token": "<|end_header_id|>",
                "python_token": "<|python_tag|>",
            },
            extra_corpus=["user assistant system"],
        )
        image_processor = MllamaImageProcessor(
            size={"height": TINY_TILE_SIZE, "width": TINY_TILE_SIZE}, max_image_tiles=TINY_MAX_TILES
        )
        processor = MllamaProcessor(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=LLAMA_32_VISION_CHAT_TEMPLATE
        )
        end_ids = [tokenizer.convert_tokens_to_ids("<|end_of_text|>"), tokenizer.eos_token_id]
        config = MllamaConfig(
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_global_layers": 1,
                "attention_heads": 4,
                "image_size": TINY_TILE_SIZE,
                "patch_size": TINY_PATCH_SIZE,
                "max_num_tiles": TINY_MAX_TILES,
                "intermediate_layers_indices": [0],
                "vision_output_dim": 64,
                "initializer_range": 0.02,
            },
            text_config={
                "vocab_size": len(tokenizer),
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "cross_attention_layers": list(TINY_CROSS_ATTENTION_LAYERS),
                "max_position_embeddings": 256,
                "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": end_ids,
                "pad_token_id": tokenizer.pad_token_id,
                "initializer_range": 0.02,
            },
            image_token_index=processor.image_token_id,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = MllamaForConditionalGeneration(config).eval()
            with torch.no_grad():
                model.model.multi_modal_projector.weight.normal_(std=TINY_PROJECTOR_INIT_STD)
                for index in TINY_CROSS_ATTENTION_LAYERS:
                    layer = model.model.language_model.layers[index]
                    layer.cross_attn_attn_gate.fill_(1.0)
                    layer.cross_attn_mlp_gate.fill_(1.0)
        model.generation_config.eos_token_id = end_ids
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        return out_dir
