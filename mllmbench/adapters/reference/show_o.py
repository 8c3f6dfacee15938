"""Show-o (Xie et al. 2024) as a transformers model: ONE Llama decoder over text and VQ image codes,
causal for text and bidirectional (masked-token prediction) for images, with an omni-attention mask.

transformers has no Show-o class (the paper ships remote code only), so this is a reference built
from real parts: a ``LlamaModel`` (embeddings, decoder layers, RMSNorm, rotary embedding and its
attention kernels) with a linear head over ONE vocabulary, and a diffusers ``VQModel`` as the
image tokenizer. The vocabulary is the text tokenizer's (with the markers ``<|t2i|>``,
``<|mmu|>``, ``<|soi|>``, ``<|eoi|>`` and an image placeholder as special tokens), then the
VQ codebook (code ``c`` is id ``image_code_offset + c``), then one ``[MASK]`` image token.

Omni-attention (`omni_attention_mask`): every position sees the positions before it (causal, as
for text); the image tokens of one image (between one ``<|soi|>`` and its ``<|eoi|>``) also see
each other in both directions; text after an image therefore sees the whole image. Padding keys
are never seen.

Two sequence layouts, as in the paper:

* understanding (mmu): ``<|mmu|> <|soi|> [64 image codes] <|eoi|> question -> answer``. The
  processor writes the image placeholder id at the 64 image positions and the model replaces
  them by the codes ``vqvae`` gives for ``pixel_values`` (early fusion: no projector, only an
  id lookup); answers are trained with the next-token loss and decoded greedily.
* generation (t2i): ``<|t2i|> prompt <|soi|> [64 image tokens, some [MASK]] <|eoi|>``. The logits
  at a ``[MASK]`` position, restricted to the codebook, predict the code at that very position
  (MaskGIT); `sample_image_codes` starts from an all-masked grid and unmasks it in parallel steps
  with diffusers' ``AmusedScheduler`` (cosine schedule, keep the most confident, re-mask the rest),
  with classifier-free guidance against an empty prompt.

The loss (`show_o_loss`) covers both at once: at a position whose input is ``[MASK]`` the label
at that position is the target (unshifted, codebook logits); every other label is a next-token
target (shifted, whole vocabulary). It is the mean over all those targets.

Importing this module registers the config with ``AutoConfig`` and the model with
``AutoModelForImageTextToText`` (model type ``mllmbench_show_o``).
"""

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoTokenizer,
    BatchFeature,
    GenerationMixin,
    LlamaModel,
    PreTrainedModel,
)
from transformers.cache_utils import Cache
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.modeling_outputs import CausalLMOutputWithPast
from transformers.utils.deprecation import deprecate_kwarg

MODEL_TYPE = "mllmbench_show_o"
IGNORE_INDEX = -100
T2I_TOKEN = "<|t2i|>"
MMU_TOKEN = "<|mmu|>"
SOI_TOKEN = "<|soi|>"
EOI_TOKEN = "<|eoi|>"
IMAGE_TOKEN = "<|image|>"
"""The placeholder the processor writes at each image position (replaced by a code id in ``forward``)."""
PROMPT_IMAGE_TOKEN = "<image>"
"""Where a prompt puts an image; the processor expands it to ``<|soi|>``, N placeholders, ``<|eoi|>``."""
SPECIAL_TOKENS = {
    "t2i_token": T2I_TOKEN,
    "mmu_token": MMU_TOKEN,
    "soi_token": SOI_TOKEN,
    "eoi_token": EOI_TOKEN,
    "image_token": IMAGE_TOKEN,
}
PROCESSOR_FILE = "show_o_processor.json"
DEFAULT_REMASK_TEMPERATURE = (2.0, 0.0)
"""aMUSEd's default re-masking (Gumbel) temperature, annealed linearly over the steps."""


class ShowOConfig(PreTrainedConfig):
    """The Llama ``text_config`` (its ``vocab_size`` is text + codebook + mask), the diffusers
    ``VQModel`` keywords (``vq_config``) and the ids of the markers, the first code and the mask."""

    model_type = MODEL_TYPE
    sub_configs_defaults = {
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama"),
    }

    text_config: Any = None
    """A Llama config (a dict or ``LlamaConfig``; a config after init)."""
    vq_config: dict[str, Any] | None = None
    """``diffusers.VQModel`` keywords of the image tokenizer."""
    codebook_size: int = 256
    image_code_offset: int = 0
    """Vocabulary id of code 0 (the codes follow the text tokenizer's ids)."""
    mask_token_id: int = 256
    """The ``[MASK]`` image token: ``image_code_offset + codebook_size``."""
    image_token_id: int = 0
    soi_token_id: int = 0
    eoi_token_id: int = 0
    t2i_token_id: int = 0
    mmu_token_id: int = 0
    image_size: int = 64
    image_grid: int = 8
    """Side of the code grid (``image_size`` / the VQ model's downsampling)."""
    tie_word_embeddings: bool = False

    @property
    def image_seq_length(self) -> int:
        """Image tokens per image (the code grid)."""
        return self.image_grid * self.image_grid


def omni_attention_mask(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    config: ShowOConfig,
    past_length: int = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The (batch, 1, query, past + query) additive omni-attention mask (0 = attend, dtype min = not).

    Causal everywhere; in addition, image tokens (placeholder, code or ``[MASK]`` ids) of the
    same image see each other (the image of a token is the count of ``<|soi|>`` up to it);
    keys where the 2D `attention_mask` is 0 (padding) are never seen. Keys of a cache
    (`past_length`) precede every query and are seen causally (an image is never split over a
    cache boundary: generation decodes text after the prompt's images).
    """
    batch, q_len = input_ids.shape
    device = input_ids.device
    kv_len = past_length + q_len
    is_image = (input_ids == config.image_token_id) | (
        (input_ids >= config.image_code_offset) & (input_ids <= config.mask_token_id)
    )
    block = torch.cumsum((input_ids == config.soi_token_id).long(), dim=1)
    q_pos = torch.arange(q_len, device=device) + past_length
    k_pos = torch.arange(kv_len, device=device)
    allowed = (k_pos[None, :] <= q_pos[:, None])[None].expand(batch, -1, -1)
    pad = torch.zeros(batch, past_length, dtype=torch.bool, device=device)
    key_image = torch.cat([pad, is_image], dim=1)
    key_block = torch.cat([torch.full((batch, past_length), -1, device=device), block], dim=1)
    same_image = is_image[:, :, None] & key_image[:, None, :] & (block[:, :, None] == key_block[:, None, :])
    allowed = allowed | same_image
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, -kv_len:].bool()
    mask = torch.zeros(batch, 1, q_len, kv_len, dtype=dtype, device=device)
    return mask.masked_fill(~allowed[:, None], torch.finfo(dtype).min)


def positions_from_mask(
    attention_mask: torch.Tensor | None, q_len: int, past_length: int, device: Any
) -> Any:
    """Position ids of the last `q_len` tokens: the count of real tokens before each (so left
    padding does not shift positions); consecutive when there is no 2D mask."""
    if attention_mask is None:
        return (torch.arange(q_len, device=device) + past_length)[None]
    positions = attention_mask.long().cumsum(-1) - 1
    positions = positions.masked_fill(attention_mask == 0, 0)
    return positions[:, -q_len:]


class ShowOForConditionalGeneration(PreTrainedModel, GenerationMixin):
    """Show-o: one ``LlamaModel`` + head over text, VQ codes and ``[MASK]``; a ``VQModel`` tokenizer.

    ``forward(input_ids, pixel_values=None, attention_mask=None, position_ids=None, cache=None,
    labels=None, use_cache=None, logits_to_keep=0)`` returns ``CausalLMOutputWithPast`` (``loss``
    with `labels`: `show_o_loss`). With ``pixel_values`` the image placeholders of ``input_ids``
    become the images' code ids first. `sample_image_codes` / `decode_image_codes` draw images.
    """

    config: ShowOConfig
    config_class = ShowOConfig
    base_model_prefix = "model"
    input_modalities = ("image", "text")  # type: ignore[assignment]
    main_input_name = "input_ids"
    _no_split_modules = ["LlamaDecoderLayer"]  # type: ignore[assignment]
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: ShowOConfig) -> None:
        from diffusers import VQModel

        super().__init__(config)
        config.text_config._attn_implementation = config._attn_implementation
        self.model = LlamaModel(config.text_config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.vqvae: Any = VQModel(**(config.vq_config or {}))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Llama's init for the decoder and head; the VQ model keeps its own (diffusers') init."""
        if any(module is m for m in self.vqvae.modules()):
            return
        super()._init_weights(module)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    # --- image tokenizer ---------------------------------------------------------------------
    @torch.no_grad()
    def get_image_codes(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(images, grid * grid) code indices (0 .. codebook - 1) of pixels in [-1, 1]."""
        vq = self.vqvae
        pixel_values = pixel_values.to(vq.dtype)
        _, _, (_, _, codes) = vq.quantize(vq.encode(pixel_values).latents)
        return codes.view(pixel_values.shape[0], -1)

    @torch.no_grad()
    def decode_image_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """(images, 3, size, size) pixels in [-1, 1] of (images, grid * grid) code indices."""
        grid, vq = self.config.image_grid, self.vqvae
        shape = (codes.shape[0], grid, grid, int(vq.config.vq_embed_dim or vq.config.latent_channels))
        return vq.decode(codes.view(codes.shape[0], -1), force_not_quantize=True, shape=shape).sample.clamp(
            -1, 1
        )

    def insert_image_codes(self, input_ids: torch.Tensor, pixel_values: torch.Tensor) -> torch.Tensor:
        """`input_ids` with the image placeholders replaced by the code ids of `pixel_values` (in order)."""
        slots = input_ids == self.config.image_token_id
        codes = self.get_image_codes(pixel_values) + self.config.image_code_offset
        if int(slots.sum()) != codes.numel():
            raise ValueError(
                f"image placeholders and codes do not match: {int(slots.sum())} placeholders in input_ids, "
                f"{codes.shape[0]} images x {codes.shape[1]} codes"
            )
        out = input_ids.clone()
        out[slots] = codes.flatten().to(out.dtype)
        return out

    # --- forward -----------------------------------------------------------------------------
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        """Logits over the whole vocabulary (see the class doc); the loss with `labels`."""
        if input_ids is None:
            raise ValueError("Show-o needs input_ids (image positions are found by their ids)")
        if pixel_values is not None:
            input_ids = self.insert_image_codes(input_ids, pixel_values)  # type: ignore[assignment]
        past = cache.get_seq_length() if cache is not None else 0
        q_len = input_ids.shape[1]
        if position_ids is None:
            position_ids = positions_from_mask(attention_mask, q_len, past, input_ids.device)
        mask = omni_attention_mask(input_ids, attention_mask, self.config, past, self.dtype)
        use_cache = use_cache if use_cache is not None else self.config.text_config.use_cache
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
        )
        hidden = out.last_hidden_state
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        logits = self.lm_head(hidden)
        loss = self.show_o_loss(logits, input_ids, labels) if labels is not None else None
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=out.cache if use_cache else None)

    def show_o_loss(
        self, logits: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        """Mean cross-entropy over the masked-image targets (unshifted, codebook logits) and the
        text targets (shifted, whole vocabulary); see the module doc."""
        cfg = self.config
        masked = input_ids == cfg.mask_token_id
        image_logits = logits[masked][:, cfg.image_code_offset : cfg.image_code_offset + cfg.codebook_size]
        image_targets = labels[masked] - cfg.image_code_offset
        text_labels = labels[:, 1:].masked_fill(masked[:, 1:], IGNORE_INDEX)
        keep = text_labels != IGNORE_INDEX
        text_logits = logits[:, :-1][keep]
        total = image_targets.numel() + int(keep.sum())
        if total == 0:
            return logits.sum() * 0.0
        loss = nn.functional.cross_entropy(image_logits.float(), image_targets, reduction="sum")
        loss = loss + nn.functional.cross_entropy(text_logits.float(), text_labels[keep], reduction="sum")
        return loss / total

    # --- text-to-image -----------------------------------------------------------------------
    def t2i_sequence(self, prompt_ids: list[int], image: list[int]) -> list[int]:
        """``<|t2i|> prompt <|soi|> image <|eoi|>`` (`image`: vocabulary ids of codes or ``[MASK]``)."""
        cfg = self.config
        return [cfg.t2i_token_id, *prompt_ids, cfg.soi_token_id, *image, cfg.eoi_token_id]

    @torch.no_grad()
    def sample_image_codes(
        self,
        prompt_ids: list[int],
        *,
        steps: int = 12,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        remask_temperature: tuple[float, float] = DEFAULT_REMASK_TEMPERATURE,
    ) -> tuple[torch.Tensor, int]:
        """Draw one image's (1, grid * grid) codes for `prompt_ids`; also the number of model calls.

        MaskGIT sampling with diffusers' ``AmusedScheduler``: all ``[MASK]`` at first; each step
        one forward (conditional and, with guidance > 1, the empty-prompt row in the same batch,
        left-padded), codebook logits ``uncond + g * (cond - uncond)``, every masked position
        sampled from its softmax, the most confident kept and the rest re-masked on the cosine
        schedule. Deterministic given `generator`.
        """
        from diffusers import AmusedScheduler

        cfg = self.config
        n, k, offset = cfg.image_seq_length, cfg.codebook_size, cfg.image_code_offset
        scheduler: Any = AmusedScheduler(mask_token_id=k)
        scheduler.set_timesteps(steps, temperature=remask_temperature, device=self.device)
        guided = guidance_scale > 1.0
        rows = [prompt_ids, []] if guided else [prompt_ids]
        sample = torch.full((1, n), k, dtype=torch.long, device=self.device)
        calls = 0
        for timestep in scheduler.timesteps:
            image = (sample[0] + offset).tolist()
            seqs = [self.t2i_sequence(r, image) for r in rows]
            length = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), length), int(self.config.text_config.pad_token_id or 0))
            mask = torch.zeros((len(seqs), length), dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, length - len(s) :] = torch.tensor(s)
                mask[i, length - len(s) :] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            logits = self(input_ids=ids, attention_mask=mask, use_cache=False).logits
            calls += 1
            image_logits = logits[:, -n - 1 : -1, offset : offset + k].float()
            if guided:
                image_logits = image_logits[1:] + guidance_scale * (image_logits[:1] - image_logits[1:])
            sample = scheduler.step(image_logits, timestep, sample, generator=generator).prev_sample
        return sample, calls


class ShowOProcessor:
    """Prompts and images -> Show-o inputs: the zoo's text tokenizer plus diffusers' ``VaeImageProcessor``.

    ``processor(text=[...], images=[...])`` expands every ``<image>`` of a prompt to ``<|soi|>``,
    ``image_seq_length`` placeholders and ``<|eoi|>``, tokenizes (padding on the tokenizer's
    side) and turns the images (in order) into ``pixel_values`` in [-1, 1] at ``image_size``, as
    the VQ model was trained. Saved as the tokenizer files plus `PROCESSOR_FILE`.
    """

    def __init__(self, tokenizer: Any, *, image_size: int = 64, image_seq_length: int = 64) -> None:
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.image_seq_length = image_seq_length
        self.chat_template = None

    @property
    def image_token_id(self) -> int:
        return int(self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))

    def token_id(self, token: str) -> int:
        """The id of a marker token."""
        return int(self.tokenizer.convert_tokens_to_ids(token))

    def expand(self, prompt: str) -> str:
        """`prompt` with each ``<image>`` written out as its image tokens."""
        block = SOI_TOKEN + IMAGE_TOKEN * self.image_seq_length + EOI_TOKEN
        return prompt.replace(PROMPT_IMAGE_TOKEN, block)

    def pixels(self, images: list[Any]) -> torch.Tensor:
        """(images, 3, size, size) in [-1, 1] (diffusers' ``VaeImageProcessor``, as the VQ model trained)."""
        from diffusers.image_processor import VaeImageProcessor

        processor = VaeImageProcessor(vae_scale_factor=8)
        rgb = [image.convert("RGB") for image in images]
        return processor.preprocess(rgb, height=self.image_size, width=self.image_size)

    def postprocess(self, pixels: torch.Tensor) -> list[Any]:
        """PIL RGB images of pixels in [-1, 1]."""
        from diffusers.image_processor import VaeImageProcessor

        images = VaeImageProcessor(vae_scale_factor=8).postprocess(pixels.float().cpu(), output_type="pil")
        return [image.convert("RGB") for image in images]

    def __call__(
        self,
        text: list[str] | str,
        images: list[Any] | None = None,
        return_tensors: str = "pt",
        padding: bool = True,
        **kwargs: Any,
    ) -> BatchFeature:
        texts = [text] if isinstance(text, str) else list(text)
        wanted = sum(t.count(PROMPT_IMAGE_TOKEN) for t in texts)
        given = len(images or [])
        if wanted != given:
            raise ValueError(f"the prompts hold {wanted} {PROMPT_IMAGE_TOKEN} but {given} images were given")
        data = dict(
            self.tokenizer([self.expand(t) for t in texts], return_tensors=return_tensors, padding=padding)
        )
        if images:
            data["pixel_values"] = self.pixels(list(images))
        return BatchFeature(data)

    def batch_decode(self, rows: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(rows, **kwargs)  # type: ignore[no-any-return]

    def decode(self, row: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(row, **kwargs)  # type: ignore[no-any-return]

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        settings = {
            "processor_class": type(self).__name__,
            "image_size": self.image_size,
            "image_seq_length": self.image_seq_length,
        }
        (directory / PROCESSOR_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs: Any) -> "ShowOProcessor":
        directory = Path(directory)
        path = directory / PROCESSOR_FILE
        if not path.is_file():
            raise OSError(f"{directory} has no {PROCESSOR_FILE} (not a Show-o checkpoint)")
        settings = json.loads(path.read_text(encoding="utf-8"))
        tokenizer = AutoTokenizer.from_pretrained(directory)
        return cls(
            tokenizer,
            image_size=int(settings["image_size"]),
            image_seq_length=int(settings["image_seq_length"]),
        )


def build_config(
    tokenizer: Any, text_config: dict[str, Any], vq_config: dict[str, Any], image_size: int
) -> ShowOConfig:
    """A `ShowOConfig` over `tokenizer` (which holds the `SPECIAL_TOKENS`): the Llama vocabulary
    is the tokenizer, then the VQ codebook, then ``[MASK]``."""
    codebook = int(vq_config["num_vq_embeddings"])
    downsample = 2 ** (len(vq_config["down_block_types"]) - 1)
    offset = len(tokenizer)

    def tid(token: str) -> int:
        return int(tokenizer.convert_tokens_to_ids(token))

    return ShowOConfig(
        text_config={**text_config, "vocab_size": offset + codebook + 1},
        vq_config=dict(vq_config),
        codebook_size=codebook,
        image_code_offset=offset,
        mask_token_id=offset + codebook,
        image_token_id=tid(IMAGE_TOKEN),
        soi_token_id=tid(SOI_TOKEN),
        eoi_token_id=tid(EOI_TOKEN),
        t2i_token_id=tid(T2I_TOKEN),
        mmu_token_id=tid(MMU_TOKEN),
        image_size=image_size,
        image_grid=image_size // downsample,
    )


def cosine_mask_count(rate_draw: float, n: int) -> int:
    """MaskGIT's training mask count: ``round(cos(pi/2 * u) * n)``, at least one, for ``u`` in [0, 1)."""
    return max(1, round(math.cos(0.5 * math.pi * rate_draw) * n))


AutoConfig.register(MODEL_TYPE, ShowOConfig, exist_ok=True)
AutoModelForImageTextToText.register(ShowOConfig, ShowOForConditionalGeneration, exist_ok=True)
