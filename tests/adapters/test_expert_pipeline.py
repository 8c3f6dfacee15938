"""Expert pipeline (tiny LLaVA captioner -> tiny Llama chat LM): contract, fidelity, batching, CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mllmbench.adapters.expert_pipeline import (
    PIPELINE_FILE,
    ExpertPipelineAdapter,
    PipelineResponse,
    PipelineUsage,
)
from mllmbench.adapters.tiny.expert_pipeline import CAPTION_MAX_NEW_TOKENS as TINY_CAPTION_MAX_NEW_TOKENS
from mllmbench.core.errors import ConfigError
from mllmbench.core.types import GenerationSettings, UnderstandRequest
from mllmbench.testing.adapter_contract import (
    check_batching,
    check_fidelity,
    sample_requests,
)

SETTINGS = GenerationSettings(max_new_tokens=8)


@pytest.fixture(scope="module")
def tiny_dir(tiny_checkpoint: Callable[[str], Path]) -> Path:
    """The session's tiny expert_pipeline checkpoint (shared: copy it before changing files)."""
    return tiny_checkpoint("expert_pipeline")


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path) -> Iterator[ExpertPipelineAdapter]:
    """The pipeline loaded on the tiny checkpoint, float32 on the CPU."""
    loaded = ExpertPipelineAdapter(str(tiny_dir))
    loaded.load()
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def direct(tiny_dir: Path) -> dict[str, Any]:
    """Both models and their processors loaded straight from transformers, not via any adapter."""
    from transformers import AutoModelForCausalLM, AutoProcessor, AutoTokenizer, LlavaForConditionalGeneration

    return {
        "captioner": LlavaForConditionalGeneration.from_pretrained(tiny_dir / "captioner").eval(),
        "caption_processor": AutoProcessor.from_pretrained(tiny_dir / "captioner"),
        "llm": AutoModelForCausalLM.from_pretrained(tiny_dir / "llm").eval(),
        "tokenizer": AutoTokenizer.from_pretrained(tiny_dir / "llm"),
    }


def _generate(model: Any, inputs: Any, max_new_tokens: int) -> tuple[list[int], int]:
    import torch

    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return [int(t) for t in out[0, inputs["input_ids"].shape[1] :]], int(inputs["input_ids"].shape[1])


def _tokenizer_inputs(tokenizer: Any, prompt: str, images: list[Any]) -> Any:
    from transformers import BatchFeature

    return BatchFeature(dict(tokenizer([prompt], return_tensors="pt")))


def test_check_fidelity_on_the_answering_llm(adapter: ExpertPipelineAdapter) -> None:
    for request in sample_requests(2):
        check_fidelity(adapter, request, SETTINGS, direct_inputs=_tokenizer_inputs)


def test_both_stages_equal_direct_transformers(
    adapter: ExpertPipelineAdapter, direct: dict[str, Any]
) -> None:
    requests = [*sample_requests(2, images_per_request=2), sample_requests(3)[2]]
    for request in requests:
        [response] = adapter.understand([request], SETTINGS)
        assert isinstance(response, PipelineResponse) and isinstance(response.usage, PipelineUsage)
        # Stage 1: LLaVA's own chat template around pipeline.json's caption prompt, one image each.
        captions, caption_in, caption_out = [], 0, 0
        for image, prompt in zip(request.images, response.caption_prompts, strict=True):
            assert prompt == "USER: <image>\nDescribe the image. ASSISTANT:"
            inputs = direct["caption_processor"](text=[prompt], images=[image], return_tensors="pt")
            tokens, n_in = _generate(direct["captioner"], inputs, TINY_CAPTION_MAX_NEW_TOKENS)
            captions.append(direct["caption_processor"].decode(tokens, skip_special_tokens=True).strip())
            caption_in, caption_out = caption_in + n_in, caption_out + len(tokens)
        assert list(response.captions) == captions
        # Stage 2: the TinyLlama-Chat format written out by hand, then the LM called directly.
        lines = "\n".join(f"Image {i}: {c}" for i, c in enumerate(captions, start=1))
        assert response.prompt == f"<|user|>\n{lines}\n{request.text}</s>\n<|assistant|>\n"
        inputs = direct["tokenizer"]([response.prompt], return_tensors="pt")
        tokens, n_in = _generate(direct["llm"], inputs, SETTINGS.max_new_tokens)
        assert response.text == direct["tokenizer"].decode(tokens, skip_special_tokens=True).strip()
        usage = response.usage
        assert (usage.input_tokens, usage.output_tokens) == (n_in, len(tokens))
        assert (usage.caption.input_tokens, usage.caption.output_tokens) == (caption_in, caption_out)
        assert usage.caption.image_tokens == 16 * len(request.images)
        assert usage.caption.batch_size == len(request.images)
        assert (usage.total_input_tokens, usage.total_output_tokens) == (
            caption_in + n_in,
            caption_out + len(tokens),
        )
        assert usage.batch_seconds == pytest.approx(usage.caption.batch_seconds + usage.answer.batch_seconds)


def test_profile_runs_from_the_start_of_captioning(adapter: ExpertPipelineAdapter) -> None:
    responses = adapter.understand(sample_requests(3), SETTINGS)
    for response in responses:
        usage = response.usage
        assert isinstance(usage, PipelineUsage) and usage.profile is not None
        caption, answer, profile = usage.caption, usage.answer, usage.profile
        assert caption.prefill_seconds is not None and answer.decode_seconds is not None
        assert profile.preprocess_seconds == caption.preprocess_seconds
        assert profile.vision_seconds == caption.vision_seconds is not None
        assert profile.decode_seconds == answer.decode_seconds
        assert len(profile.token_seconds) == usage.output_tokens
        # The first answer token comes after the whole caption generate call.
        assert profile.prefill_seconds > caption.batch_seconds
        assert profile.token_seconds[0] == pytest.approx(profile.prefill_seconds)
        assert list(profile.token_seconds) == sorted(profile.token_seconds)
    assert adapter.info.weights_bytes == sum(
        p.numel() * p.element_size()
        for model in (adapter.captioner.model, adapter.model)
        for p in (*model.parameters(), *model.buffers())
    )


def _caption_tokens_by_bytes(tokenizer: Any, prompt: str, caption: str) -> int:
    """Prompt tokens whose bytes overlap the caption's bytes, from the byte-level vocabulary itself."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    to_byte = {char: byte for byte, char in bytes_to_unicode().items()}
    specials = set(tokenizer.all_special_tokens)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(prompt)["input_ids"])
    assert tokens[0] == tokenizer.bos_token and not prompt.startswith(tokenizer.bos_token)
    pieces = [t.encode() if t in specials else bytes(to_byte[c] for c in t) for t in tokens[1:]]
    assert b"".join(pieces) == prompt.encode(), "byte reconstruction of the prompt failed"
    start = prompt.encode().index(f"Image 1: {caption}\n".encode()) + len(b"Image 1: ")
    end = start + len(caption.encode())
    count, position = 0, 0
    for piece in pieces:
        count += position < end and position + len(piece) > start
        position += len(piece)
    return count


def test_captions_are_in_the_prompt_and_are_the_image_tokens(
    adapter: ExpertPipelineAdapter, direct: dict[str, Any]
) -> None:
    requests = sample_requests(6)
    responses = adapter.understand(requests, SETTINGS)
    for request, response in zip(requests, responses, strict=True):
        [caption] = response.captions
        assert caption and f"Image 1: {caption}\n{request.text}" in response.prompt
        assert response.usage.image_tokens == _caption_tokens_by_bytes(
            direct["tokenizer"], response.prompt, caption
        )
        assert response.usage.answer.image_tokens == response.usage.image_tokens
    assert len({r.captions for r in responses}) > 1, "six different images gave one caption"
    from PIL import Image

    probe = UnderstandRequest("p", (Image.new("RGB", (336, 336), (127, 127, 127)),), "?")
    [blank] = adapter.understand([probe], SETTINGS)
    assert blank.usage.image_tokens == adapter.info.visual_tokens_per_image > 0


def test_a_request_without_images_gets_the_question_alone(adapter: ExpertPipelineAdapter) -> None:
    [response] = adapter.understand([UnderstandRequest("t", (), "What colour is the circle?")], SETTINGS)
    assert response.prompt == "<|user|>\nWhat colour is the circle?</s>\n<|assistant|>\n"
    assert response.usage.image_tokens == 0 and response.usage.caption.input_tokens == 0  # type: ignore[attr-defined]


def test_batch_equals_one_at_a_time(adapter: ExpertPipelineAdapter) -> None:
    check_batching(adapter, sample_requests(8), SETTINGS)
    # Two images, one image, none: stage 1 gets the three images in one call.
    mixed = [
        sample_requests(1, images_per_request=2)[0],
        sample_requests(2)[1],
        UnderstandRequest("t", (), "How many shapes are there?"),
    ]
    batched = check_batching(adapter, mixed, SETTINGS)
    assert [len(r.captions) for r in batched] == [2, 1, 0]  # type: ignore[attr-defined]
    assert all(r.usage.caption.batch_size == 3 for r in batched)  # type: ignore[attr-defined]


def test_info_counts_both_models(adapter: ExpertPipelineAdapter) -> None:
    info = adapter.info
    captioner = adapter.captioner.info
    llm_params = sum(p.numel() for p in adapter.model.parameters())
    assert {k: info.parameters[k] for k in ("vision", "connector", "llm")} == {
        k: captioner.parameters[k] for k in ("vision", "connector", "llm")
    }
    assert info.parameters["expert_llm"] == llm_params
    asr_params = sum(p.numel() for p in adapter._asr.model.parameters())  # the Whisper recogniser
    assert info.parameters["asr"] == asr_params > 0
    assert info.parameters["total"] == captioner.parameters["total"] + llm_params + asr_params
    assert (info.paradigm.vision_encoder, info.paradigm.llm_backbone) == ("CLIPVisionModel", "LlamaModel")
    assert str(info.paradigm.connector) == "expert" and info.batching == "batched"
    assert info.model_class == (
        "LlavaForConditionalGeneration -> LlamaForCausalLM + WhisperForConditionalGeneration"
    )
    assert info.chat_template == adapter.processor.chat_template
    json.dumps(adapter.understand(sample_requests(1), SETTINGS)[0].usage.to_dict())


def _write_pipeline(directory: Path, **changes: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PIPELINE_FILE).write_text(json.dumps(changes), encoding="utf-8")
    return directory


def test_parts_may_live_elsewhere(tiny_dir: Path, adapter: ExpertPipelineAdapter, tmp_path: Path) -> None:
    config = json.loads((tiny_dir / PIPELINE_FILE).read_text())
    config["captioner"]["model"] = str(tiny_dir / "captioner")
    config["llm"] = str(tiny_dir / "llm")
    config["asr"] = str(tiny_dir / "asr")
    elsewhere = ExpertPipelineAdapter(str(_write_pipeline(tmp_path / "elsewhere", **config)))
    elsewhere.load()
    request = sample_requests(1)[0]
    assert (
        elsewhere.understand([request], SETTINGS)[0].text == adapter.understand([request], SETTINGS)[0].text
    )
    elsewhere.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"captioner": None}, "'captioner' must be an object"),
        ({"captioner": {"adapter": "no_such_adapter", "model": "captioner"}}, "unknown adapter"),
        (
            {"captioner": {"adapter": "llava", "model": "missing"}},
            "captioner.model 'missing' is not a directory",
        ),
        ({"llm": "./nowhere"}, "llm './nowhere' is not a directory"),
        ({"caption_line": "Image {index}"}, "caption_line must be a string containing {caption}"),
        ({"user_template": "{captions} {oops} {question}"}, "not a valid template"),
        ({"caption_max_new_tokens": 0}, "caption_max_new_tokens must be a positive integer"),
        ({"extra": 1}, "unknown keys \\['extra'\\]"),
    ],
)
def test_bad_pipeline_json_is_a_config_error(
    tiny_dir: Path, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    config = {**json.loads((tiny_dir / PIPELINE_FILE).read_text()), **change}
    for part in ("captioner", "llm"):
        (tmp_path / part).symlink_to(tiny_dir / part)
    _write_pipeline(tmp_path, **config)
    with pytest.raises(ConfigError, match=message) as caught:
        ExpertPipelineAdapter(str(tmp_path)).load()
    assert str(tmp_path / PIPELINE_FILE) in str(caught.value)


def test_missing_pipeline_json_and_hub_ids_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{tmp_path / PIPELINE_FILE} not found"):
        ExpertPipelineAdapter(str(tmp_path)).load()
    (tmp_path / PIPELINE_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        ExpertPipelineAdapter(str(tmp_path)).load()
    with pytest.raises(ConfigError, match="needs a local directory"):
        ExpertPipelineAdapter("some-org/some-pipeline").load()


def test_checkpoint_without_chat_template_is_a_config_error(tiny_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(tiny_dir, tmp_path / "copy"))
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        path = copy / "llm" / name
        if name == "chat_template.jinja":
            path.unlink(missing_ok=True)
        else:
            config = json.loads(path.read_text())
            config.pop("chat_template", None)
            path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="has no chat template"):
        ExpertPipelineAdapter(str(copy)).load()


@pytest.mark.slow
def test_cli_run_on_vqa(tiny_dir: Path, shapes_dir: Path, tmp_path: Path) -> None:
    from mllmbench.cli.main import main

    out = tmp_path / "run"
    argv = ["run", "--adapter", "expert_pipeline", "--model", str(tiny_dir), "--suite", "vqa"]
    argv += ["--limit", "4", "--out", str(out), "--no-report", "--no-progress"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(line["error"] is None for line in lines)
    for line in lines:
        assert line["prompt"].startswith("<|user|>\nImage 1: ") and line["text"] in line["prompt"]
        assert line["tokens"]["input"] > line["tokens"]["image"] > 0
    run = json.loads((out / "run.json").read_text())
    assert run["adapter"]["paradigm"]["connector"] == "expert"
    assert run["adapter"]["parameters"]["expert_llm"] > 0
    assert run["suites"]["vqa"]["n_done"] == 4
