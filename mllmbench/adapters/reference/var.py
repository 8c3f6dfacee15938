"""VAR (Tian et al. 2024, "Visual Autoregressive Modeling"): next-scale prediction as transformers models.

No library class exists for VAR, so this is a reference built from real parts:

* Tokenizer (`MultiScaleVQVAE`, saved alone as `VARTokenizer`): a diffusers ``VQModel``'s encoder
  (+ ``quant_conv``), decoder (+ ``post_quant_conv``) and codebook (its ``quantize.embedding``: ONE
  codebook shared by every scale), with VAR's multi-scale residual quantizer around them. For the
  scales ``s_1 < .. < s_K`` (the last one is the latent grid), starting from ``f_hat = 0``::

      r_k   = nearest code of area-downsample(f - f_hat, s_k x s_k)
      f_hat = f_hat + phi_k(bicubic-upsample(codebook[r_k], grid))

  ``phi_k`` is VAR's residual refiner (`Phi`: ``(1 - ratio) * h + ratio * conv3x3(h)``), one per
  scale (VAR shares 4 among its 10 scales; here each scale has its own). Training (VAR's
  ``VectorQuantizer2``): per scale ``beta * |sg(f_hat) - f|^2 + |f_hat - sg(f)|^2``, averaged over
  the scales, and the straight-through ``f + sg(f_hat - f)`` into the decoder.
* Transformer (`VARForTextToImage`): transformers' ``LlamaModel`` (RMSNorm, rotary positions,
  SwiGLU MLP, its attention kernels) over ``[prompt tokens] + [scale tokens]`` with a
  block-causal 4D attention mask (`block_causal_allowed`): prompt tokens are causal among
  themselves; the tokens of scale k see the whole prompt, every earlier scale and every token of
  their own scale. The input of scale 1 is a start token: a learned vector plus a projection of
  the prompt's mean token embedding (VAR's class-conditioned start token, with the prompt in the
  class's place); the input of scale k > 1 is VAR's teacher forcing: the accumulated ``f_hat`` of
  scales 1..k-1, area-downsampled to ``s_k x s_k`` and projected into the width (``word_embed``).
  Every input token also gets a learned level (scale) embedding and a learned position embedding
  (one per token of the whole multi-scale sequence, VAR's ``pos_1LC``). Output: logits over the
  codebook for every token of scale k (``head`` after the final norm). VAR's AdaLN conditioning
  is not used (the prompt conditions through attention and the start token).
* Sampling (`VARForTextToImage.sample`): one transformer call per scale (the prefix is recomputed,
  no KV cache), every token of the scale drawn in parallel (temperature, optional top-k / top-p)
  from a per-image ``torch.Generator``; classifier-free guidance runs the empty prompt in the same
  call (``uncond + g * (cond - uncond)``, a constant ``g`` over the scales). The final ``f_hat``
  is decoded by the ``VQModel`` decoder.

Importing this module registers both configs with ``AutoConfig`` and both models with
``AutoModel`` (model types ``mllmbench_var`` and ``mllmbench_var_vq``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import VQModel
from torch import nn
from transformers import AutoConfig, AutoModel, LlamaModel, PreTrainedModel
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.utils import ModelOutput

MODEL_TYPE = "mllmbench_var"
TOKENIZER_MODEL_TYPE = "mllmbench_var_vq"
DEFAULT_SCALES = (1, 2, 3, 4, 6, 8)
"""Side of each scale's token map (the last one is the VQ latent grid)."""


def scale_lengths(scales: Sequence[int]) -> list[int]:
    """Tokens of each scale (``s * s``)."""
    return [int(s) * int(s) for s in scales]


class Phi(nn.Conv2d):
    """VAR's residual refiner of an upsampled scale: ``(1 - ratio) * h + ratio * conv3x3(h)``."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__(channels, channels, kernel_size=3, padding=1)
        self.ratio = ratio

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * (1 - self.ratio) + super().forward(h) * self.ratio


@dataclass
class Quantized:
    """What the multi-scale quantizer made of a latent ``f``."""

    codes: list[torch.Tensor]
    """Per scale, the (b, s, s) code ids."""
    f_hat: torch.Tensor
    """Sum of every scale's contribution (straight-through to ``f`` when trained)."""
    vq_loss: torch.Tensor
    """VAR's codebook + commitment loss, averaged over the scales."""


class MultiScaleVQVAE(nn.Module):
    """A diffusers ``VQModel`` with VAR's multi-scale residual quantizer over its one codebook."""

    def __init__(
        self, vq_config: dict[str, Any], scales: Sequence[int], phi_ratio: float, beta: float
    ) -> None:
        super().__init__()
        vq: Any = VQModel(**vq_config)
        self.vq = vq
        self.scales = tuple(int(s) for s in scales)
        self.beta = beta
        channels = int(vq.config.vq_embed_dim or vq.config.latent_channels)
        self.phis = nn.ModuleList(Phi(channels, phi_ratio) for _ in self.scales)

    @property
    def grid(self) -> int:
        """Side of the latent grid (the last scale)."""
        return self.scales[-1]

    @property
    def codebook(self) -> nn.Embedding:
        """The one shared codebook (the ``VQModel``'s)."""
        return self.vq.quantize.embedding

    def encode_latents(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """``f``: the encoder and ``quant_conv`` output, (b, c, grid, grid)."""
        return self.vq.encode(pixel_values).latents

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """(b, h, w) ids of the codes nearest to the vectors of `z` (b, c, h, w)."""
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        book = self.codebook.weight
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.t() + book.pow(2).sum(1)[None, :]
        return distances.argmin(1).view(b, h, w)

    def contribution(self, k: int, codes: torch.Tensor) -> torch.Tensor:
        """Scale `k`'s term of ``f_hat``: ``phi_k(upsample(codebook[codes]))`` at the latent grid."""
        h = self.codebook(codes).permute(0, 3, 1, 2)
        if h.shape[-1] != self.grid:
            h = F.interpolate(h, size=(self.grid, self.grid), mode="bicubic")
        return self.phis[k](h)

    def quantize(self, f: torch.Tensor) -> Quantized:
        """VAR's residual quantization of `f` over `scales` (see the module doc)."""
        f_detached = f.detach()
        f_rest = f_detached
        f_hat = torch.zeros_like(f_detached)
        loss = f.new_zeros(())
        codes = []
        for k, side in enumerate(self.scales):
            z = f_rest if side == self.grid else F.interpolate(f_rest, size=(side, side), mode="area")
            ids = self.nearest(z.detach())
            codes.append(ids)
            h = self.contribution(k, ids)
            f_hat = f_hat + h
            f_rest = f_rest - h
            loss = loss + self.beta * F.mse_loss(f_hat.detach(), f) + F.mse_loss(f_hat, f_detached)
        loss = loss / len(self.scales)
        return Quantized(codes=codes, f_hat=f + (f_hat - f).detach(), vq_loss=loss)

    def f_hat(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        """``f_hat`` of per-scale `codes` (the sum of their contributions)."""
        return torch.stack([self.contribution(k, ids) for k, ids in enumerate(codes)]).sum(0)

    def next_scale_inputs(self, codes: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """VAR's teacher forcing: for scales 2..K, the accumulated ``f_hat`` of the earlier scales
        area-downsampled to that scale, (b, c, s_k, s_k) each."""
        out = []
        f_hat: torch.Tensor | None = None
        for k, ids in enumerate(codes[: len(self.scales) - 1]):
            h = self.contribution(k, ids)
            f_hat = h if f_hat is None else f_hat + h
            side = self.scales[k + 1]
            out.append(f_hat if side == self.grid else F.interpolate(f_hat, size=(side, side), mode="area"))
        return out

    def decode(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Pixels in [-1, 1] of ``f_hat`` (``post_quant_conv`` and the ``VQModel`` decoder)."""
        vq = self.vq
        return vq.decoder(vq.post_quant_conv(f_hat), f_hat if vq.config.norm_type == "spatial" else None)


class VARTokenizerConfig(PreTrainedConfig):
    """The multi-scale tokenizer: ``VQModel`` keywords (``vq_config``), the scales, VAR's ``phi``
    blend ratio and the commitment weight ``beta``."""

    model_type = TOKENIZER_MODEL_TYPE

    vq_config: dict[str, Any] | None = None
    scales: list[int] | None = None
    phi_ratio: float = 0.5
    beta: float = 0.25

    def __post_init__(self, **kwargs: Any) -> None:
        if self.scales is None:
            self.scales = list(DEFAULT_SCALES)
        self.scales = [int(s) for s in self.scales]
        super().__post_init__(**kwargs)


class VARTokenizer(PreTrainedModel):
    """The multi-scale VQ-VAE alone (`MultiScaleVQVAE` as ``vqvae``): the ``var_vq`` zoo member."""

    config: VARTokenizerConfig
    config_class = VARTokenizerConfig
    base_model_prefix = "var_vq"
    main_input_name = "pixel_values"

    def __init__(self, config: VARTokenizerConfig) -> None:
        super().__init__(config)
        self.vqvae = MultiScaleVQVAE(
            dict(config.vq_config or {}), config.scales or DEFAULT_SCALES, config.phi_ratio, config.beta
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Keep the parts' own initialisation (diffusers and torch defaults)."""

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, Quantized]:
        """Reconstruction in [-1, 1] and the quantization of `pixel_values`."""
        quantized = self.vqvae.quantize(self.vqvae.encode_latents(pixel_values))
        return self.vqvae.decode(quantized.f_hat), quantized


class VARConfig(PreTrainedConfig):
    """The tokenizer fields (as `VARTokenizerConfig`), the Llama ``text_config`` of the transformer
    and ``prompt_length`` (prompt tokens, padded on the right)."""

    model_type = MODEL_TYPE
    sub_configs_defaults = {"text_config": SubConfigSpec(config_class=AutoConfig, model_type="llama")}

    text_config: Any = None
    """A Llama config (a dict or ``LlamaConfig``; a config after init)."""
    vq_config: dict[str, Any] | None = None
    scales: list[int] | None = None
    phi_ratio: float = 0.5
    beta: float = 0.25
    prompt_length: int = 64
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs: Any) -> None:
        if self.scales is None:
            self.scales = list(DEFAULT_SCALES)
        self.scales = [int(s) for s in self.scales]
        super().__post_init__(**kwargs)


@dataclass
class VAROutput(ModelOutput):
    """``loss`` (cross-entropy over every scale's tokens, when pixels or codes are given) and
    ``logits`` (b, tokens of the scales given, codebook)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None


def block_causal_allowed(prompt_mask: torch.Tensor, scales: Sequence[int], n_scales: int) -> torch.Tensor:
    """(b, T, T) bool, True where query row may attend key column; T = prompt + tokens of the
    first `n_scales` scales. Prompt: causal over its non-pad tokens; scale k: the non-pad prompt,
    every earlier scale and its own scale; every position also sees itself (a pad row is never
    empty)."""
    b, p = prompt_mask.shape
    sizes = scale_lengths(scales[:n_scales])
    n = sum(sizes)
    device = prompt_mask.device
    level = torch.repeat_interleave(torch.arange(n_scales, device=device), torch.tensor(sizes, device=device))
    keys = prompt_mask.bool()
    allowed = torch.zeros(b, p + n, p + n, dtype=torch.bool, device=device)
    causal = torch.ones(p, p, dtype=torch.bool, device=device).tril()
    allowed[:, :p, :p] = causal[None] & keys[:, None, :]
    allowed[:, p:, :p] = keys[:, None, :]
    allowed[:, p:, p:] = (level[None, :] <= level[:, None])[None]
    return allowed | torch.eye(p + n, dtype=torch.bool, device=device)[None]


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """`logits` (…, V) with everything outside the top-k and the top-p nucleus set to -inf."""
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative - ordered.softmax(-1) > top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


class VARForTextToImage(PreTrainedModel):
    """Next-scale prediction over the multi-scale tokenizer, conditioned on a prompt (module doc).

    ``forward(prompt_ids, prompt_mask, pixel_values=None, codes=None)``: teacher-forced logits of
    every scale and the cross-entropy against the codes of `pixel_values` (or the given `codes`).
    ``sample(...)``: one image's (or a batch's) codes, one transformer call per scale;
    ``decode(f_hat)``: pixels.
    """

    config: VARConfig
    config_class = VARConfig
    base_model_prefix = "var"
    main_input_name = "prompt_ids"
    _supports_sdpa = True
    _supports_attention_backend = True
    _no_split_modules = ["LlamaDecoderLayer"]  # type: ignore[assignment]

    def __init__(self, config: VARConfig) -> None:
        super().__init__(config)
        text = config.text_config
        text._attn_implementation = config._attn_implementation
        scales = list(config.scales or DEFAULT_SCALES)
        self.vqvae = MultiScaleVQVAE(dict(config.vq_config or {}), scales, config.phi_ratio, config.beta)
        width = int(text.hidden_size)
        channels = self.vqvae.codebook.embedding_dim
        self.transformer = LlamaModel(text)
        self.word_embed = nn.Linear(channels, width)
        self.prompt_pool = nn.Linear(width, width)
        self.start = nn.Parameter(torch.zeros(1, 1, width))
        self.level_embed = nn.Embedding(len(scales), width)
        self.pos_embed = nn.Parameter(torch.zeros(1, sum(scale_lengths(scales)), width))
        self.head = nn.Linear(width, self.vqvae.codebook.num_embeddings)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Llama's normal(0, initializer_range) init for the transformer side; the tokenizer keeps
        its own (it is loaded from a trained one)."""
        std = self.config.text_config.initializer_range
        if module is self:
            nn.init.normal_(self.start, std=std)
            nn.init.normal_(self.pos_embed, std=std)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding) and module is not self.vqvae.codebook:
            nn.init.normal_(module.weight, std=std)
        elif type(module).__name__ == "LlamaRMSNorm":
            weight: Any = module.weight
            nn.init.ones_(weight)

    @property
    def scales(self) -> tuple[int, ...]:
        """The token-map sides."""
        return self.vqvae.scales

    def attention_mask(self, prompt_mask: torch.Tensor, n_scales: int, dtype: torch.dtype) -> torch.Tensor:
        """The additive (b, 1, T, T) form of `block_causal_allowed`."""
        allowed = block_causal_allowed(prompt_mask, self.scales, n_scales)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]

    def scale_logits(
        self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, scale_inputs: Sequence[torch.Tensor]
    ) -> torch.Tensor:
        """Logits (b, tokens of scales 1..len(scale_inputs)+1, codebook): one transformer call.

        `scale_inputs` are the teacher-forcing maps of scales 2.. (`MultiScaleVQVAE.next_scale_inputs`).
        """
        text = self.transformer.embed_tokens(prompt_ids)
        weight = prompt_mask.to(text.dtype)[..., None]
        pooled = (text * weight).sum(1) / weight.sum(1).clamp(min=1)
        tokens = [self.start.to(text.dtype) + self.prompt_pool(pooled)[:, None]]
        tokens += [self.word_embed(x.to(text.dtype).flatten(2).transpose(1, 2)) for x in scale_inputs]
        image = torch.cat(tokens, 1)
        n = image.shape[1]
        levels = torch.tensor(
            [k for k, size in enumerate(scale_lengths(self.scales)) for _ in range(size)][:n],
            device=image.device,
        )
        image = image + self.pos_embed[:, :n].to(text.dtype) + self.level_embed(levels)[None]
        embeds = torch.cat([text, image], 1)
        b, length = embeds.shape[:2]
        mask = self.attention_mask(prompt_mask, len(scale_inputs) + 1, embeds.dtype)
        positions = torch.arange(length, device=embeds.device)[None].expand(b, -1)
        hidden = self.transformer(
            inputs_embeds=embeds, attention_mask=mask, position_ids=positions
        ).last_hidden_state
        return self.head(hidden[:, prompt_ids.shape[1] :])

    def forward(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        codes: Sequence[torch.Tensor] | None = None,
    ) -> VAROutput:
        """Teacher-forced logits of every scale; the loss against `codes` (those of `pixel_values`
        when given; the tokenizer runs without gradient)."""
        if codes is None:
            if pixel_values is None:
                raise ValueError("VARForTextToImage.forward needs pixel_values or codes")
            with torch.no_grad():
                codes = self.vqvae.quantize(self.vqvae.encode_latents(pixel_values)).codes
        with torch.no_grad():
            inputs = self.vqvae.next_scale_inputs(codes)
        logits = self.scale_logits(prompt_ids, prompt_mask, inputs)
        target = torch.cat([c.flatten(1) for c in codes], 1)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1))
        return VAROutput(loss=loss, logits=logits)

    @torch.no_grad()
    def sample(
        self,
        prompt_ids: torch.Tensor,
        prompt_mask: torch.Tensor,
        generators: Sequence[torch.Generator],
        *,
        guidance_scale: float = 1.0,
        uncond_ids: torch.Tensor | None = None,
        uncond_mask: torch.Tensor | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``f_hat`` and per-scale codes of one image per prompt row, one transformer call per scale.

        With `uncond_ids` (the empty prompt, same padded length) and ``guidance_scale != 1`` the
        unconditional rows run in the same call and the logits are ``u + g * (c - u)``. Row i's
        tokens are drawn with ``generators[i]`` (temperature <= 0: the most likely code).
        """
        b = prompt_ids.shape[0]
        guided = uncond_ids is not None and guidance_scale != 1.0
        if guided:
            assert uncond_ids is not None and uncond_mask is not None
            ids, mask = torch.cat([prompt_ids, uncond_ids]), torch.cat([prompt_mask, uncond_mask])
        else:
            ids, mask = prompt_ids, prompt_mask
        dtype = self.head.weight.dtype
        inputs: list[torch.Tensor] = []
        codes: list[torch.Tensor] = []
        f_hat: torch.Tensor | None = None
        for k, side in enumerate(self.scales):
            batch_inputs = [torch.cat([x, x]) if guided else x for x in inputs]
            logits = self.scale_logits(ids, mask, batch_inputs)[:, -side * side :].float()
            if guided:
                cond, uncond = logits.chunk(2)
                logits = uncond + guidance_scale * (cond - uncond)
            if temperature <= 0:
                picked = logits.argmax(-1)
            else:
                probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)
                picked = torch.stack(
                    [torch.multinomial(probs[i], 1, generator=generators[i]).squeeze(-1) for i in range(b)]
                )
            ids_k = picked.view(b, side, side)
            codes.append(ids_k)
            h = self.vqvae.contribution(k, ids_k)
            f_hat = h if f_hat is None else f_hat + h
            if k + 1 < len(self.scales):
                nxt = self.scales[k + 1]
                inputs.append(
                    f_hat if nxt == self.vqvae.grid else F.interpolate(f_hat, size=(nxt, nxt), mode="area")
                )
        assert f_hat is not None
        return f_hat.to(dtype), codes

    @torch.no_grad()
    def decode(self, f_hat: torch.Tensor) -> torch.Tensor:
        """Pixels in [-1, 1] of ``f_hat``."""
        return self.vqvae.decode(f_hat)


AutoConfig.register(MODEL_TYPE, VARConfig, exist_ok=True)
AutoConfig.register(TOKENIZER_MODEL_TYPE, VARTokenizerConfig, exist_ok=True)
AutoModel.register(VARConfig, VARForTextToImage, exist_ok=True)
AutoModel.register(VARTokenizerConfig, VARTokenizer, exist_ok=True)
