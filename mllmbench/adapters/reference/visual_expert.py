"""CogVLM's visual expert as a transformers model: per-token-type QKV and MLP experts in every layer.

transformers has no CogVLM class (only remote code exists), so this is a reference built from
real parts: a CLIP vision tower (``AutoModel`` of a ``CLIPVisionConfig``), LLaVA's
``LlavaMultiModalProjector``, and a Llama-style decoder whose every layer holds two
``LlamaAttention`` projection sets and two ``LlamaMLP`` (a language expert and a vision expert,
with Llama's RMSNorm, rotary embedding and attention kernels). Each token goes through the
expert of its type: the vision expert where the token is an image token of the prompt, the
language expert everywhere else (text, padding, and every generated token). Attention itself
is one causal attention over all tokens. The vision expert starts as a copy of the language
expert, so a fresh model computes exactly what the same weights do as a plain LLaVA.

Input convention (LLaVA's): the prompt holds the image token repeated N times (N = visual
tokens per image, the processor's expansion), and the projected patch features replace those
positions. Positions are consecutive (CogVLM gives all image tokens one position id; this
reference keeps LLaVA's numbering so a copied expert equals the base model).

Importing this module registers the config with ``AutoConfig`` and the model with
``AutoModelForImageTextToText`` (model type ``mllmbench_visual_expert``).
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.masking_utils import create_causal_mask
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import (
    LlamaAttention,
    LlamaMLP,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
    eager_attention_forward,
)
from transformers.models.llava.modeling_llava import LlavaMultiModalProjector
from transformers.utils.deprecation import deprecate_kwarg

MODEL_TYPE = "mllmbench_visual_expert"


class VisualExpertConfig(PreTrainedConfig):
    """Vision tower (``vision_config``, CLIP), projector settings, and the Llama ``text_config``.

    ``image_token_id`` marks the image positions; ``image_seq_length`` is N, the positions one
    image takes. The projector fields mean what they mean in ``LlavaConfig``.
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
    image_seq_length: int = 576
    projector_hidden_act: str = "gelu"
    vision_feature_select_strategy: str = "default"
    vision_feature_layer: int = -1
    multimodal_projector_bias: bool = True
    tie_word_embeddings: bool = False


def route(
    x: torch.Tensor,
    vision_mask: torch.Tensor | None,
    language: Callable[[torch.Tensor], torch.Tensor],
    vision: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """`language` on the rows where `vision_mask` is False, `vision` where it is True (per token).

    Each expert sees only its own tokens (CogVLM's split, so the cost is one expert per token).
    """
    if vision_mask is None or not bool(vision_mask.any()):
        return language(x)
    if bool(vision_mask.all()):
        return vision(x)
    lang_out = language(x[~vision_mask])
    vis_out = vision(x[vision_mask])
    out = lang_out.new_empty((*x.shape[:-1], lang_out.shape[-1]))
    out[~vision_mask] = lang_out
    out[vision_mask] = vis_out.to(lang_out.dtype)
    return out


class VisualExpertAttention(nn.Module):
    """Causal self-attention whose q/k/v and output projections come from the token's expert."""

    def __init__(self, config: Any, layer_idx: int) -> None:
        super().__init__()
        self.language_expert = LlamaAttention(config, layer_idx)
        self.vision_expert = LlamaAttention(config, layer_idx)
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = self.language_expert.head_dim
        self.num_key_value_groups = self.language_expert.num_key_value_groups
        self.scaling = self.language_expert.scaling
        self.attention_dropout = config.attention_dropout
        self.is_causal = True

    @staticmethod
    def _qkv(expert: LlamaAttention) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: torch.cat([expert.q_proj(x), expert.k_proj(x), expert.v_proj(x)], dim=-1)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None,
        vision_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        **kwargs,
    ) -> torch.Tensor:
        input_shape = hidden_states.shape[:-1]
        lang, vis = self.language_expert, self.vision_expert
        qkv = route(hidden_states, vision_mask, self._qkv(lang), self._qkv(vis))
        sizes = [lang.q_proj.out_features, lang.k_proj.out_features, lang.v_proj.out_features]
        query, key, value = (
            t.reshape(*input_shape, -1, self.head_dim).transpose(1, 2) for t in qkv.split(sizes, dim=-1)
        )
        cos, sin = position_embeddings
        query, key = apply_rotary_pos_emb(query, key, cos, sin)
        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)
        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        attn_output, _ = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=0.0 if not self.training else self.attention_dropout,
            scaling=self.scaling,
            **kwargs,
        )
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return route(attn_output, vision_mask, lang.o_proj, vis.o_proj)


class VisualExpertMLP(nn.Module):
    """Two ``LlamaMLP``: the language expert and the vision expert, chosen per token."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.language_expert = LlamaMLP(config)
        self.vision_expert = LlamaMLP(config)

    def forward(self, x: torch.Tensor, vision_mask: torch.Tensor | None = None) -> torch.Tensor:
        return route(x, vision_mask, self.language_expert, self.vision_expert)


class VisualExpertDecoderLayer(nn.Module):
    """A Llama decoder layer (pre-norm, shared RMSNorms) with expert attention and expert MLP."""

    def __init__(self, config: Any, layer_idx: int) -> None:
        super().__init__()
        self.self_attn = VisualExpertAttention(config, layer_idx)
        self.mlp = VisualExpertMLP(config)
        self.input_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self, hidden_states: torch.Tensor, vision_mask: torch.Tensor | None, **kwargs
    ) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.self_attn(self.input_layernorm(hidden_states), vision_mask=vision_mask, **kwargs)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.mlp(self.post_attention_layernorm(hidden_states), vision_mask)
        return residual + hidden_states


class VisualExpertTextModel(nn.Module):
    """The decoder: token embeddings, visual-expert layers, final RMSNorm, rotary embedding."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(
            [VisualExpertDecoderLayer(config, i) for i in range(config.num_hidden_layers)]
        )
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(config=config)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        vision_mask: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, Cache | None]:
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        if position_ids is None:
            past = cache.get_seq_length() if cache is not None else 0
            position_ids = (torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device) + past)[None]  # type: ignore[assignment]
        causal_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=cache,
            position_ids=position_ids,
        )
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids=position_ids)
        for layer in self.layers:
            hidden_states = layer(
                hidden_states,
                vision_mask,
                attention_mask=causal_mask,
                position_embeddings=position_embeddings,
                position_ids=position_ids,
                cache=cache,
                **kwargs,
            )
        return self.norm(hidden_states), cache


class VisualExpertModel(nn.Module):
    """Vision tower, projector and the visual-expert decoder (LLaVA's layout: ``model.*``)."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.multi_modal_projector = LlavaMultiModalProjector(config)
        self.language_model = VisualExpertTextModel(config.text_config)


class VisualExpertForConditionalGeneration(PreTrainedModel, GenerationMixin):
    """CLIP ViT -> MLP projector -> Llama decoder with a vision expert in every layer (CogVLM).

    Build a fresh one with `from_zoo_parts`; load a saved one with ``from_pretrained`` (or
    ``AutoModelForImageTextToText``). ``forward(input_ids, attention_mask=None,
    pixel_values=None, labels=None, cache=None, use_cache=None, ...)`` returns
    ``CausalLMOutputWithPast`` (``loss`` when ``labels`` are given, next-token shift;
    ``past_key_values`` is accepted as the deprecated name of ``cache``).
    """

    config: VisualExpertConfig
    config_class = VisualExpertConfig
    base_model_prefix = "model"
    input_modalities = ("image", "text")  # type: ignore[assignment]
    main_input_name = "input_ids"
    _no_split_modules = ["VisualExpertDecoderLayer", "CLIPEncoderLayer"]  # type: ignore[assignment]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config: VisualExpertConfig) -> None:
        super().__init__(config)
        # The decoder is a plain module reading text_config: give it the model's attention kernel.
        config.text_config._attn_implementation = config._attn_implementation
        self.model = VisualExpertModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        self.copy_language_to_vision_experts()

    @classmethod
    def from_zoo_parts(
        cls,
        vision_config: PreTrainedConfig,
        text_config: PreTrainedConfig,
        image_token_id: int,
        *,
        image_seq_length: int,
        seed: int = 0,
        **config_kwargs,
    ) -> "VisualExpertForConditionalGeneration":
        """A fresh model from the zoo's shared configs, initialised under ``torch.manual_seed(seed)``.

        ``image_seq_length`` is N, the image tokens per image the processor writes. The vision
        experts start as copies of the language experts. The caller's RNG state is kept.
        """
        config = VisualExpertConfig(
            vision_config=vision_config,
            text_config=text_config,
            image_token_id=image_token_id,
            image_seq_length=image_seq_length,
            **config_kwargs,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(config).eval()

    @torch.no_grad()
    def copy_language_to_vision_experts(self) -> None:
        """Set every vision expert (attention and MLP) to a copy of its layer's language expert."""
        for layer in self.model.language_model.layers:
            for block in (layer.self_attn, layer.mlp):
                block.vision_expert.load_state_dict(block.language_expert.state_dict())

    def get_input_embeddings(self) -> nn.Module:
        return self.model.language_model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.language_model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(images, N, hidden) projected patch features (LLaVA's feature layer and CLS choice)."""
        outputs = self.model.vision_tower(pixel_values, output_hidden_states=True, return_dict=True)
        features = outputs.hidden_states[self.config.vision_feature_layer]
        if self.config.vision_feature_select_strategy == "default":
            features = features[:, 1:]
        return self.model.multi_modal_projector(features)

    def _merge_image_features(
        self, input_ids: torch.Tensor, inputs_embeds: torch.Tensor, pixel_values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        vision_mask = input_ids == self.config.image_token_id
        features = self.get_image_features(pixel_values.to(self.dtype))
        if int(vision_mask.sum()) != features.shape[0] * features.shape[1]:
            raise ValueError(
                f"image tokens and features do not match: {int(vision_mask.sum())} image tokens in "
                f"input_ids, {features.shape[0]} images x {features.shape[1]} features"
            )
        merged = inputs_embeds.masked_scatter(
            vision_mask[..., None], features.to(inputs_embeds.device, inputs_embeds.dtype)
        )
        return merged, vision_mask

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
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """Logits (and the shifted LM loss with `labels`); image tokens take the vision expert.

        Token types: a position is a vision token when ``pixel_values`` are given and it holds
        ``image_token_id``; everything else (and every step without ``pixel_values``, i.e. each
        cached decode step) is a language token.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        vision_mask = None
        if pixel_values is not None:
            if input_ids is None:
                raise ValueError("pixel_values need input_ids (the image-token positions)")
            inputs_embeds, vision_mask = self._merge_image_features(input_ids, inputs_embeds, pixel_values)
        use_cache = use_cache if use_cache is not None else self.config.text_config.use_cache
        hidden_states, cache = self.model.language_model(
            inputs_embeds,
            vision_mask,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
        )
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=cache if use_cache else None)


AutoConfig.register(MODEL_TYPE, VisualExpertConfig, exist_ok=True)
AutoModelForImageTextToText.register(VisualExpertConfig, VisualExpertForConditionalGeneration, exist_ok=True)
