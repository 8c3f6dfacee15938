"""Transfusion (Zhou et al. 2024) as a transformers model: one transformer, text tokens and
continuous image patches in one sequence.

transformers and diffusers have no Transfusion class, so this is a reference built from real
parts:

* the transformer is transformers' ``LlamaModel`` (embeddings, decoder layers, RMSNorm, rotary
  positions) with an ``lm_head`` for text;
* the image is a latent of a diffusers ``AutoencoderKL`` (held inside the model as ``vae`` and
  saved with it), scaled by its ``config.scaling_factor`` and patchified into ``patch_size`` x
  ``patch_size`` patches (the zoo's 4x16x16 latent -> 64 patches of 16 values); the patches
  enter and leave the transformer through one linear layer each (``patch_in``, ``patch_out``:
  Transfusion's simplest patch encoder), and every patch also gets the diffusion timestep's
  embedding (diffusers ``Timesteps`` + ``TimestepEmbedding``); clean images for understanding
  carry timestep 0;
* in the sequence an image is ``<boi>`` + one ``<image>`` placeholder per patch + ``<eoi>``; the
  placeholders' embeddings are replaced by the embedded patches;
* attention (`transfusion_attention_mask`, a 4D mask LlamaModel uses as it is): causal over the
  sequence, and bidirectional among the patches of one image (Transfusion's mask); padding is
  never attended to.

The forward returns the text logits and, for the image positions, ``patch_output``: the
denoiser's prediction per patch (what it means, noise or velocity, is the trainer's choice;
the config's ``prediction_type`` records it for the sampler). Training and sampling loops live
in `mllmbench.zoo.transfusion` and `mllmbench.adapters.transfusion`.

Importing this module registers the config with ``AutoConfig`` and the model with
``AutoModelForImageTextToText`` (model type ``mllmbench_transfusion``). The processor
(`TransfusionProcessor`) is the tokenizer plus the image preprocessing the VAE was trained with
(diffusers ``VaeImageProcessor``: resize to ``image_size``, scale to [-1, 1]).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn
from transformers import AutoConfig, AutoModelForImageTextToText, GenerationMixin, LlamaModel, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils.deprecation import deprecate_kwarg

MODEL_TYPE = "mllmbench_transfusion"
IMAGE_TOKEN = "<image>"
BOI_TOKEN = "<boi>"
EOI_TOKEN = "<eoi>"


class TransfusionConfig(PreTrainedConfig):
    """The Llama ``text_config``, the ``AutoencoderKL`` keywords (``vae_config``, its
    ``scaling_factor`` included), the marker token ids and the patch and diffusion settings."""

    model_type = MODEL_TYPE
    attribute_map = {"image_token_index": "image_token_id"}
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
    }

    text_config: Any = None
    """A Llama config (a dict or ``LlamaConfig``; a config after init)."""
    vae_config: Any = None
    """``diffusers.AutoencoderKL`` keywords (plain JSON), ``scaling_factor`` included."""
    image_token_id: int = 0
    boi_token_id: int = 0
    eoi_token_id: int = 0
    image_size: int = 64
    """Side of the square pixels the VAE encodes (the processor resizes to it)."""
    patch_size: int = 2
    """Side of a latent patch (Transfusion's 2x2)."""
    prediction_type: str = "flow"
    """What ``patch_output`` predicts: ``flow``, the rectified-flow velocity ``noise - latent``
    of ``x_s = (1 - s) * latent + s * noise`` at noise level ``s`` in [0, 1], timestep
    ``1000 * s`` (diffusers ``FlowMatchEulerDiscreteScheduler``'s convention)."""
    scheduler_config: Any = None
    """Keywords of the sampler's ``FlowMatchEulerDiscreteScheduler`` (``num_train_timesteps``, ``shift``)."""
    tie_word_embeddings: bool = False

    @property
    def latent_channels(self) -> int:
        """Channels of the VAE latent."""
        return int(self.vae_config["latent_channels"])

    @property
    def latent_size(self) -> int:
        """Side of the VAE latent (one 2x downsampling per encoder block after the first)."""
        return int(self.image_size) // 2 ** (len(self.vae_config["block_out_channels"]) - 1)

    @property
    def patches_per_side(self) -> int:
        """Patches along one side of the latent."""
        return self.latent_size // int(self.patch_size)

    @property
    def image_seq_length(self) -> int:
        """Patches (``<image>`` positions) per image."""
        return self.patches_per_side**2

    @property
    def patch_dim(self) -> int:
        """Values per patch (channels x patch area)."""
        return self.latent_channels * int(self.patch_size) ** 2


@dataclass
class TransfusionOutput(CausalLMOutputWithPast):
    """``CausalLMOutputWithPast`` plus the per-patch prediction of the image positions."""

    patch_output: torch.Tensor | None = None
    """(images, patches, patch_dim): ``patch_out`` of the image positions, in the order the
    images appear in the batch (None when no image was given)."""


def patchify(latents: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(b, c, h, w) latents -> (b, (h/p)*(w/p), c*p*p) patches, row-major over the patch grid."""
    b, c, h, w = latents.shape
    p = patch_size
    x = latents.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int) -> torch.Tensor:
    """The inverse of `patchify`: (b, n, c*p*p) -> (b, c, sqrt(n)*p, sqrt(n)*p)."""
    b, n, _ = patches.shape
    side = int(round(n**0.5))
    p = patch_size
    x = patches.reshape(b, side, side, channels, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, channels, side * p, side * p)


def transfusion_attention_mask(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    image_token_id: int,
    boi_token_id: int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """The (b, 1, L, L) additive mask: causal, plus bidirectional among the ``<image>`` positions
    of one image (one image = the placeholders after one ``<boi>``), padding never attended.

    0 where attention is allowed, the dtype's minimum elsewhere (LlamaModel takes a 4D mask as it is).
    """
    b, length = input_ids.shape
    device = input_ids.device
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()[None]
    is_image = input_ids == image_token_id
    block = torch.cumsum(input_ids == boi_token_id, dim=1) * is_image  # 0 outside images
    same_image = (block[:, :, None] == block[:, None, :]) & is_image[:, :, None] & is_image[:, None, :]
    allowed = causal | same_image
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, :]
    mask = torch.zeros(b, 1, length, length, dtype=dtype, device=device)
    return mask.masked_fill(~allowed[:, None], torch.finfo(dtype).min)


class TransfusionForConditionalGeneration(PreTrainedModel, GenerationMixin):
    """One Llama transformer over text tokens and image-latent patches (see the module doc).

    ``forward(input_ids, attention_mask=None, pixel_values=None, image_patches=None,
    timesteps=None, labels=None, ...)``: ``pixel_values`` (clean images, [-1, 1]) are encoded by
    the VAE and enter at timestep 0 (understanding); ``image_patches`` (already noised,
    (images, patches, patch_dim)) enter at ``timesteps`` (one per image; generation and its
    training). Returns `TransfusionOutput` (``loss``: the shifted LM loss when ``labels`` are given).
    """

    config: TransfusionConfig
    config_class = TransfusionConfig
    base_model_prefix = "transfusion"
    input_modalities = ("image", "text")  # type: ignore[assignment]
    main_input_name = "input_ids"
    _no_split_modules = ["LlamaDecoderLayer"]  # type: ignore[assignment]
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: TransfusionConfig) -> None:
        super().__init__(config)
        text = config.text_config
        text._attn_implementation = config._attn_implementation
        hidden = text.hidden_size
        self.model = LlamaModel(text)
        self.lm_head = nn.Linear(hidden, text.vocab_size, bias=False)
        self.patch_in = nn.Linear(config.patch_dim, hidden)
        self.patch_out = nn.Linear(hidden, config.patch_dim)
        self.time_proj = Timesteps(hidden, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(hidden, hidden)
        self.vae: Any = AutoencoderKL(**config.vae_config)
        self.post_init()

    @classmethod
    def from_parts(
        cls,
        tokenizer: Any,
        text_config: PreTrainedConfig,
        vae_config: dict[str, Any],
        *,
        image_size: int,
        seed: int = 0,
        **config_kwargs: Any,
    ) -> "TransfusionForConditionalGeneration":
        """A fresh model over `tokenizer` (which holds ``<image>``, ``<boi>``, ``<eoi>``),
        initialised under ``torch.manual_seed(seed)`` (the caller's RNG state is kept); the
        generation config gets the tokenizer's BOS, EOS and pad ids."""
        ids = {
            name: int(tokenizer.convert_tokens_to_ids(token))
            for name, token in (
                ("image_token_id", IMAGE_TOKEN),
                ("boi_token_id", BOI_TOKEN),
                ("eoi_token_id", EOI_TOKEN),
            )
        }
        kwargs: dict[str, Any] = {
            "text_config": text_config,
            "vae_config": dict(vae_config),
            "image_size": image_size,
            "scheduler_config": {"num_train_timesteps": 1000, "shift": 1.0},
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            **ids,
            **config_kwargs,
        }
        config = TransfusionConfig(**kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls(config).eval()
        model.generation_config.bos_token_id = tokenizer.bos_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        return model

    def get_input_embeddings(self) -> nn.Module:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    # --- images ----------------------------------------------------------------------------
    @property
    def scaling_factor(self) -> float:
        """The VAE's latent scaling factor."""
        return float(self.config.vae_config.get("scaling_factor", 1.0))

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(b, 3, H, W) pixels in [-1, 1] -> scaled latent means (b, c, h, w)."""
        vae_dtype = next(self.vae.parameters()).dtype
        latents = self.vae.encode(pixel_values.to(vae_dtype)).latent_dist.mean
        return latents * self.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (b, c, h, w) -> pixels in [-1, 1] (b, 3, H, W)."""
        vae_dtype = next(self.vae.parameters()).dtype
        return self.vae.decode((latents / self.scaling_factor).to(vae_dtype)).sample

    def patchify(self, latents: torch.Tensor) -> torch.Tensor:
        """`patchify` with the config's patch size."""
        return patchify(latents, int(self.config.patch_size))

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """`unpatchify` with the config's patch size and latent channels."""
        return unpatchify(patches, int(self.config.patch_size), self.config.latent_channels)

    def embed_patches(self, patches: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """(images, n, patch_dim) patches at `timesteps` (images,) -> (images, n, hidden)."""
        dtype = self.patch_in.weight.dtype
        t = self.time_embedding(self.time_proj(timesteps.reshape(-1)).to(dtype))
        return self.patch_in(patches.to(dtype)) + t[:, None, :]

    def attention_mask_4d(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """`transfusion_attention_mask` in the model's dtype."""
        return transfusion_attention_mask(
            input_ids,
            attention_mask,
            int(self.config.image_token_id),
            int(self.config.boi_token_id),
            self.dtype,
        )

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_patches: torch.Tensor | None = None,
        timesteps: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> TransfusionOutput:
        """Text logits and patch predictions (see the class doc)."""
        if input_ids is None:
            raise ValueError("Transfusion needs input_ids (the <image> placeholders mark the patches)")
        if pixel_values is not None and image_patches is not None:
            raise ValueError("give pixel_values (clean images) or image_patches (noised), not both")
        embeds = self.get_input_embeddings()(input_ids)
        is_image = input_ids == self.config.image_token_id
        if pixel_values is not None:
            image_patches = self.patchify(self.encode_images(pixel_values))
            timesteps = torch.zeros(image_patches.shape[0], device=image_patches.device)
        if image_patches is not None:
            if timesteps is None:
                raise ValueError("image_patches need their timesteps (one per image)")
            features = self.embed_patches(image_patches, timesteps.to(image_patches.device))
            if int(is_image.sum()) != features.shape[0] * features.shape[1]:
                raise ValueError(
                    f"image tokens and patches do not match: {int(is_image.sum())} <image> tokens in "
                    f"input_ids, {features.shape[0]} images x {features.shape[1]} patches"
                )
            embeds = embeds.masked_scatter(is_image[..., None], features.to(embeds.dtype))
        prefill = cache is None or cache.get_seq_length() == 0
        mask = attention_mask
        if prefill and (mask is None or mask.dim() == 2) and bool(is_image.any()):
            mask = self.attention_mask_4d(input_ids, attention_mask)
        if position_ids is None and attention_mask is not None and attention_mask.dim() == 2 and prefill:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # type: ignore[assignment]
        outputs = self.model(
            inputs_embeds=embeds,
            attention_mask=mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
        )
        hidden = outputs.last_hidden_state
        patch_output = None
        if image_patches is not None:
            patch_output = self.patch_out(hidden[is_image]).reshape(
                image_patches.shape[0], -1, self.config.patch_dim
            )
        text_hidden = hidden[:, -logits_to_keep:] if logits_to_keep else hidden
        logits = self.lm_head(text_hidden)
        loss = None
        if labels is not None:
            loss = self.loss_function(
                logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs
            )
        return TransfusionOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache if use_cache else None,
            patch_output=patch_output,
        )


class TransfusionProcessor:
    """The tokenizer plus the VAE's image preprocessing; ``<image>`` in a prompt becomes one
    placeholder per latent patch.

    ``processor(text=[...], images=[...])`` -> ``BatchFeature`` with ``input_ids``,
    ``attention_mask`` (padded on the tokenizer's side) and ``pixel_values`` ((images, 3, S, S)
    in [-1, 1], S = ``image_size``). ``save_pretrained`` / ``from_pretrained`` store the tokenizer
    only: the patch count and image size come from the model config saved next to it.
    """

    def __init__(self, tokenizer: Any, image_size: int, image_seq_length: int) -> None:
        from diffusers.image_processor import VaeImageProcessor

        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.image_seq_length = int(image_seq_length)
        self.image_processor = VaeImageProcessor(vae_scale_factor=1)
        self.image_token = IMAGE_TOKEN
        self.image_token_id = int(tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))
        self.boi_token_id = int(tokenizer.convert_tokens_to_ids(BOI_TOKEN))
        self.eoi_token_id = int(tokenizer.convert_tokens_to_ids(EOI_TOKEN))
        self.chat_template = None

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "TransfusionProcessor":
        """The saved tokenizer with the image settings of the saved model config."""
        from transformers import AutoTokenizer

        config = TransfusionConfig.from_pretrained(directory)
        return cls(AutoTokenizer.from_pretrained(directory), config.image_size, config.image_seq_length)

    def save_pretrained(self, directory: str | Path) -> Any:
        """Save the tokenizer."""
        return self.tokenizer.save_pretrained(directory)

    def expand(self, text: str) -> str:
        """`text` with every ``<image>`` repeated once per patch."""
        return text.replace(IMAGE_TOKEN, IMAGE_TOKEN * self.image_seq_length)

    def pixels(self, images: list[Any]) -> torch.Tensor:
        """(n, 3, S, S) pixels in [-1, 1] of PIL `images` (RGB)."""
        rgb = [image.convert("RGB") for image in images]
        return self.image_processor.preprocess(rgb, height=self.image_size, width=self.image_size)

    def __call__(
        self,
        text: str | list[str],
        images: list[Any] | None = None,
        return_tensors: str = "pt",
        padding: bool | str = True,
        **kwargs: Any,
    ) -> Any:
        from transformers import BatchFeature

        texts = [text] if isinstance(text, str) else list(text)
        expanded = [self.expand(t) for t in texts]
        n_placeholders = sum(t.count(IMAGE_TOKEN) for t in texts)
        if n_placeholders != len(images or []):
            raise ValueError(f"{n_placeholders} {IMAGE_TOKEN} in the prompts for {len(images or [])} images")
        data = dict(self.tokenizer(expanded, return_tensors=return_tensors, padding=padding, **kwargs))
        if images:
            data["pixel_values"] = self.pixels(list(images))
        return BatchFeature(data)

    def batch_decode(self, rows: Any, **kwargs: Any) -> list[str]:
        """The tokenizer's ``batch_decode``."""
        return self.tokenizer.batch_decode(rows, **kwargs)  # type: ignore[no-any-return]

    def decode(self, row: Any, **kwargs: Any) -> str:
        """The tokenizer's ``decode``."""
        return str(self.tokenizer.decode(row, **kwargs))


AutoConfig.register(MODEL_TYPE, TransfusionConfig, exist_ok=True)
AutoModelForImageTextToText.register(TransfusionConfig, TransfusionForConditionalGeneration, exist_ok=True)
