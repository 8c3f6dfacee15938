"""LLaMA-Adapter (V1, multimodal) as a transformers model: peft's adaption prompts + a visual prompt.

The adaption prompts are peft's real ones: ``AdaptionPromptConfig``/``AdaptionPromptModel``
wrap the top ``adapter_layers`` attention modules of a ``LlamaForCausalLM`` with learnable
prompts of ``adapter_len`` tokens and a zero-initialised gate (so a fresh model computes exactly
what the Llama alone does). peft's prompt is one ``(1, L, H)`` tensor shared by the batch;
`VisualAdaptedAttention` (a small subclass of peft's ``AdaptedAttention``) adds each sample's
visual prompt to it: the CLIP vision tower's pooled output (post-layernorm CLS feature) through
an ``nn.Linear`` to the LLM width, added to every prompt token of every adapted layer, as in
LLaMA-Adapter's multimodal variant.

Sequence convention: no image features enter the token sequence. Like Mllama's ``<|image|>``,
the prompt holds one ``<image>`` placeholder per image (the processor expands it to exactly one
token); it is an ordinary embedded token marking where the image is. One image per sample.
The image reaches the model as ``pixel_values``; during ``generate`` the visual prompt is
computed once, at prefill, and carried to the decode steps (``visual_features``).

Importing this module registers the config with ``AutoConfig`` and the model with
``AutoModelForImageTextToText`` (model type ``mllmbench_llama_adapter``).
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from peft import AdaptionPromptConfig
from peft.tuners.adaption_prompt import AdaptionPromptModel
from peft.tuners.adaption_prompt.layer import AdaptedAttention
from peft.tuners.adaption_prompt.utils import llama_compute_query_states
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.models.llama.modeling_llama import LlamaForCausalLM, repeat_kv
from transformers.utils.deprecation import deprecate_kwarg

MODEL_TYPE = "mllmbench_llama_adapter"
ADAPTER_NAME = "default"


class LlamaAdapterConfig(PreTrainedConfig):
    """CLIP ``vision_config``, Llama ``text_config``, and the adaption prompts' size.

    ``adapter_len`` prompt tokens in each of the top ``adapter_layers`` layers;
    ``image_token_id`` is the one placeholder token an image takes in the text.
    """

    model_type = MODEL_TYPE
    attribute_map = {"image_token_index": "image_token_id"}
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_vision_model"),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
    }

    vision_config: Any = None
    """A CLIP vision config (a dict or ``CLIPVisionConfig``; a config after init)."""
    text_config: Any = None
    """A Llama config (a dict or ``LlamaConfig``; a config after init)."""
    image_token_id: int = 32000
    adapter_len: int = 10
    adapter_layers: int = 1
    tie_word_embeddings: bool = False


class VisualAdaptedAttention(AdaptedAttention):
    """peft's ``AdaptedAttention`` with a per-sample visual prompt added to the shared prompt.

    `visual_prompt` is ``(batch, hidden)`` or None (text only: peft's behaviour); the model sets
    it for the duration of one forward. The maths is peft's, with a batch dimension on the prompt.
    """

    def __init__(self, model_type: str, adapter_len: int, model: nn.Module) -> None:
        super().__init__(model_type, adapter_len, model)
        self.visual_prompt: torch.Tensor | None = None

    def forward(self, **kwargs):
        output, *rest = self.model(**kwargs)
        attn = self.model
        bsz, q_len, _ = output.shape
        prompt: torch.Tensor = self.adaption_prompt  # (1, L, H)
        if self.visual_prompt is not None:
            prompt = prompt + self.visual_prompt[:, None, :].to(prompt.dtype)  # (B, L, H)
        prompt = prompt.expand(bsz, -1, -1)
        key = attn.k_proj(prompt).view(bsz, self.adapter_len, -1, attn.head_dim).transpose(1, 2)
        value = attn.v_proj(prompt).view(bsz, self.adapter_len, -1, attn.head_dim).transpose(1, 2)
        key = repeat_kv(key, attn.num_key_value_groups)
        value = repeat_kv(value, attn.num_key_value_groups)
        query = llama_compute_query_states(model=attn, **kwargs)  # (B, heads, q_len, head_dim)
        previous_dtype = query.dtype
        scores: torch.Tensor = torch.matmul(query, key.transpose(2, 3).to(previous_dtype))
        scores = scores / math.sqrt(attn.head_dim)
        scores = self.adaption_gate * nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(
            previous_dtype
        )
        adapter_output = (
            torch.matmul(scores, value.to(previous_dtype)).transpose(1, 2).reshape(bsz, q_len, -1)
        )
        adapter_output = attn.o_proj(adapter_output)
        return (output + adapter_output).to(previous_dtype), *rest


class VisualAdaptionPromptModel(AdaptionPromptModel):
    """peft's ``AdaptionPromptModel`` creating `VisualAdaptedAttention` instead of ``AdaptedAttention``."""

    def _create_adapted_attentions(self, config: AdaptionPromptConfig, parents: list[nn.Module]) -> None:
        for parent in parents:
            wrapped = VisualAdaptedAttention(
                model_type=self.model.config.model_type,
                adapter_len=config.adapter_len,
                model=getattr(parent, config.target_modules),
            )
            setattr(parent, config.target_modules, wrapped)


@dataclass
class LlamaAdapterCausalLMOutput(CausalLMOutputWithPast):
    """``CausalLMOutputWithPast`` plus the ``(batch, hidden)`` visual prompt used (for generate)."""

    visual_features: torch.Tensor | None = None


class LlamaAdapterForConditionalGeneration(PreTrainedModel, GenerationMixin):
    """CLIP ViT pooled feature -> Linear -> added to peft's adaption prompts of a Llama (LLaMA-Adapter).

    Modules: ``vision_tower`` (CLIPVisionModel), ``visual_projection`` (Linear), ``language_model``
    (LlamaForCausalLM, its top attention modules wrapped by peft in place: their weights live
    under ``...self_attn.model.*``, the prompts and gates under ``...self_attn.adaption_*``).
    peft marks only the adaption prompts and gates of the LLM trainable (LLaMA-Adapter freezes
    the LLM); the vision tower and projection stay trainable. Loading re-applies the wrapping in
    ``__init__``, so the saved prompts and gates load into it.
    """

    config: LlamaAdapterConfig
    config_class = LlamaAdapterConfig
    base_model_prefix = "model"
    input_modalities = ("image", "text")  # type: ignore[assignment]
    main_input_name = "input_ids"
    _no_split_modules = ["LlamaDecoderLayer", "CLIPEncoderLayer"]
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: LlamaAdapterConfig) -> None:
        super().__init__(config)
        config.text_config._attn_implementation = config._attn_implementation
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.text_config.hidden_size)
        self.language_model = LlamaForCausalLM(config.text_config)
        peft_config = AdaptionPromptConfig(
            adapter_len=config.adapter_len, adapter_layers=config.adapter_layers, task_type="CAUSAL_LM"
        )
        # Kept outside the module tree: it wraps `language_model` in place (no duplicate weights).
        object.__setattr__(
            self,
            "adaption",
            VisualAdaptionPromptModel(self.language_model, {ADAPTER_NAME: peft_config}, ADAPTER_NAME),
        )
        self.post_init()

    @classmethod
    def from_zoo_parts(
        cls,
        vision_config: PreTrainedConfig,
        text_config: PreTrainedConfig,
        image_token_id: int,
        *,
        adapter_len: int = 10,
        adapter_layers: int | None = None,
        seed: int = 0,
    ) -> "LlamaAdapterForConditionalGeneration":
        """A fresh model from the zoo's shared configs under ``torch.manual_seed(seed)`` (gates at 0).

        ``adapter_layers`` defaults to every layer of ``text_config``. The caller's RNG is kept.
        """
        config = LlamaAdapterConfig(
            vision_config=vision_config,
            text_config=text_config,
            image_token_id=image_token_id,
            adapter_len=adapter_len,
            adapter_layers=adapter_layers or text_config.num_hidden_layers,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(config).eval()

    def adapted_attentions(self) -> list[VisualAdaptedAttention]:
        """The wrapped attention modules, bottom to top."""
        return [m for m in self.language_model.modules() if isinstance(m, VisualAdaptedAttention)]

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.language_model.get_output_embeddings()

    def get_visual_prompt(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(images, hidden): the projected pooled CLIP feature of each image."""
        pooled = self.vision_tower(pixel_values.to(self.dtype), return_dict=True).pooler_output
        return self.visual_projection(pooled)

    @contextmanager
    def _visual_prompt(self, features: torch.Tensor | None) -> Iterator[None]:
        layers = self.adapted_attentions()
        for layer in layers:
            layer.visual_prompt = features
        try:
            yield
        finally:
            for layer in layers:
                layer.visual_prompt = None

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        visual_features: torch.Tensor | None = None,
        **kwargs,
    ) -> LlamaAdapterCausalLMOutput:
        """Logits (and the shifted LM loss with `labels`), one image per sample via ``pixel_values``.

        ``visual_features`` (``(batch, hidden)``, from an earlier output) replaces ``pixel_values``:
        ``generate`` passes it to the decode steps.
        """
        tokens = input_ids if input_ids is not None else inputs_embeds
        if tokens is None:
            raise ValueError("give input_ids or inputs_embeds")
        batch = tokens.shape[0]
        if visual_features is None and pixel_values is not None:
            if pixel_values.shape[0] != batch:
                raise ValueError(
                    f"LLaMA-Adapter takes one image per sample: {pixel_values.shape[0]} images "
                    f"for {batch} sequences"
                )
            visual_features = self.get_visual_prompt(pixel_values)
        with self._visual_prompt(visual_features):
            out = self.language_model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                cache=cache,
                inputs_embeds=inputs_embeds,
                labels=labels,
                use_cache=use_cache,
                logits_to_keep=logits_to_keep,
                **kwargs,
            )
        return LlamaAdapterCausalLMOutput(
            loss=out.loss, logits=out.logits, cache=out.cache, visual_features=visual_features
        )

    def _update_model_kwargs_for_generation(
        self, outputs, model_kwargs, is_encoder_decoder=False, num_new_tokens=1
    ):
        """Carry the prefill's visual prompt to every decode step (``pixel_values`` are dropped)."""
        model_kwargs = super()._update_model_kwargs_for_generation(
            outputs, model_kwargs, is_encoder_decoder=is_encoder_decoder, num_new_tokens=num_new_tokens
        )
        if getattr(outputs, "visual_features", None) is not None:
            model_kwargs["visual_features"] = outputs.visual_features
        return model_kwargs


AutoConfig.register(MODEL_TYPE, LlamaAdapterConfig, exist_ok=True)
AutoModelForImageTextToText.register(LlamaAdapterConfig, LlamaAdapterForConditionalGeneration, exist_ok=True)
