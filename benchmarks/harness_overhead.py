"""The harness's own overhead: `mllm-bench run` against a bare batched ``model.generate`` loop.

Runs the same Shapes VQA questions, in the same process, through

* ``mllm-bench run --suite vqa`` (in-process `mllmbench.cli.main.main`); the adapter's model
  load is timed and subtracted, everything else - reading the data, opening images, the
  per-token timing and memory tracking, scoring, the sample log and run.json - counts;
* a bare loop at the same batch size: processor -> ``generate`` -> ``batch_decode``;
* a bare loop at batch size 1 (how lmms-eval runs most models), on the first ``--bs1-samples``
  questions (its throughput is per sample, so a subset keeps the benchmark short);

and prints the throughput ratios, by two clocks: wall time, and the CPU time of this process
(``time.process_time``). On a shared machine the wall clock moves with other people's load;
with one torch thread (``--threads 1``, the default) the CPU time is the work done and hardly
moves. The three paths are interleaved within each round, in alternating order, and the
median ratio over the rounds is reported.

The model is a random "mid-size" LLaVA built here (CLIP ViT 224/14, 6 layers, width 384, MLP
projector, Llama width 512, 8 layers, vocabulary 32000; 69.5 M parameters; 256 image tokens,
about 290 prompt tokens), so ``generate`` dominates as it does for real checkpoints; the tiny
test checkpoint is dominated by Python overhead instead.

    python benchmarks/harness_overhead.py --out /tmp/overhead
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("harness_overhead")

IMAGE_SIZE = 224
PATCH_SIZE = 14


def build_mid_llava(out_dir: Path, *, seed: int = 0) -> Path:
    """Write the random mid-size LLaVA and its processor to `out_dir` (reused when present)."""
    marker = out_dir / "mid-llava.json"
    if marker.exists():
        return out_dir
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from mllmbench.adapters.tiny.chat_templates import LLAVA_15_CHAT_TEMPLATE
    from mllmbench.adapters.tiny_tokenizer import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(extra_special_tokens={"image_token": "<image>"})
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
        ),
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_15_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=384,
            intermediate_size=1536,
            num_hidden_layers=6,
            num_attention_heads=6,
            image_size=IMAGE_SIZE,
            patch_size=PATCH_SIZE,
            initializer_range=0.02,
        ),
        text_config=LlamaConfig(
            hidden_size=512,
            intermediate_size=1376,
            num_hidden_layers=8,
            num_attention_heads=8,
            num_key_value_heads=8,
            vocab_size=32000,
            max_position_embeddings=1024,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            initializer_range=0.02,
        ),
        image_token_index=processor.image_token_id,
        image_seq_length=(IMAGE_SIZE // PATCH_SIZE) ** 2,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    n_params = sum(p.numel() for p in model.parameters())
    marker.write_text(json.dumps({"seed": seed, "parameters": n_params}) + "\n")
    return out_dir


@dataclass(frozen=True)
class Measured:
    """One path over the questions: wall and process CPU seconds, samples and output tokens."""

    wall: float
    cpu: float
    samples: int
    tokens: int
    in_adapter_wall: float | None = None
    """Harness only: wall seconds inside ``adapter.understand`` (summed ``call_seconds``)."""

    def rate(self, clock: str) -> float:
        """Samples per second of `clock` (``wall`` or ``cpu``)."""
        return self.samples / (self.wall if clock == "wall" else self.cpu)


class BareLoop:
    """The same work without the harness: processor -> generate -> batch_decode, in batches."""

    def __init__(
        self, model_dir: Path, prompts: list[str], image_paths: list[str], max_new_tokens: int
    ) -> None:
        import torch
        from PIL import Image
        from transformers import AutoProcessor, LlavaForConditionalGeneration

        self.torch = torch
        self.model = LlavaForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.processor.tokenizer.padding_side = "left"
        self.prompts = prompts
        self.image_paths = image_paths
        self.max_new_tokens = max_new_tokens
        self.open = lambda p: Image.open(p).convert("RGB")

    def run(self, batch_size: int, limit: int | None = None) -> Measured:
        """Generated tokens (EOS included, padding excluded) and the time for the prompts."""
        torch = self.torch
        n = len(self.prompts) if limit is None else limit
        eos = self.model.generation_config.eos_token_id
        pad = self.processor.tokenizer.pad_token_id
        n_tokens = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, batch_size):
            stop = min(i + batch_size, n)
            images = [self.open(p) for p in self.image_paths[i:stop]]
            inputs = self.processor(
                text=self.prompts[i:stop], images=images, return_tensors="pt", padding=True
            )
            with torch.inference_mode():
                out = self.model.generate(
                    **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad
                )
            new = out[:, inputs["input_ids"].shape[1] :]
            self.processor.batch_decode(new, skip_special_tokens=True)
            for row in new.tolist():
                n_tokens += next((k + 1 for k, t in enumerate(row) if t == eos), len(row))
        return Measured(time.perf_counter() - wall, time.process_time() - cpu, n, n_tokens)


class Harness:
    """In-process `mllm-bench run --suite vqa`; the model load (wall and CPU) is subtracted."""

    def __init__(self, model_dir: Path, out: Path, args: argparse.Namespace) -> None:
        from mllmbench.adapters.llava import LlavaAdapter

        self.model_dir, self.out, self.args = model_dir, out, args
        self.loads: list[tuple[float, float]] = []
        real_load = LlavaAdapter.load
        loads = self.loads

        def timed_load(adapter: LlavaAdapter) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            real_load(adapter)
            loads.append((time.perf_counter() - wall, time.process_time() - cpu))

        LlavaAdapter.load = timed_load  # type: ignore[method-assign]

    def run(self, limit: int) -> Measured:
        from mllmbench.cli.main import main

        args = self.args
        argv = [
            "run",
            *("--adapter", "llava", "--model", str(self.model_dir), "--suite", "vqa"),
            *("--limit", str(limit), "--batch-size", str(args.batch_size)),
            *("--max-new-tokens", str(args.max_new_tokens), "--out", str(self.out)),
            "--overwrite",
            "--no-report",
            "--no-progress",
        ]
        wall, cpu = time.perf_counter(), time.process_time()
        code = main(argv)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if code != 0:
            raise SystemExit(f"mllm-bench run failed with exit code {code}")
        load_wall, load_cpu = self.loads[-1]
        lines = [json.loads(x) for x in (self.out / "samples.jsonl").read_text().splitlines()]
        tokens = sum(r["tokens"]["output"] for r in lines)
        in_adapter = sum(r["timing"]["call_seconds"] / r["timing"]["batch_size"] for r in lines)
        return Measured(wall - load_wall, cpu - load_cpu, len(lines), tokens, in_adapter)


def prompts_for(model_dir: Path, limit: int) -> tuple[list[str], list[str]]:
    """The chat-templated prompts and image paths the harness sends for the first `limit` questions."""
    from mllmbench.adapters.llava import LlavaAdapter
    from mllmbench.suites.shapes_suites import ShapesVQASuite

    adapter = LlavaAdapter(str(model_dir))
    adapter.load()
    samples = ShapesVQASuite().load_samples(limit)
    prompts = [adapter.render_prompt(s.text, 1) for s in samples]
    adapter.close()
    return prompts, [s.image_paths[0] for s in samples]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measured rounds")
    parser.add_argument(
        "--bs1-samples", type=int, default=4, help="questions for the batch-size-1 loop (its throughput)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is the work)")
    parser.add_argument("--out", type=Path, help="write overhead.json here")
    parser.add_argument("--model-dir", type=Path, help="where the mid-size checkpoint is built/reused")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    import torch

    from mllmbench.engine import provenance

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="mllmbench-overhead-"))
    model_dir = build_mid_llava(args.model_dir or work / "mid-llava")
    n_params = json.loads((model_dir / "mid-llava.json").read_text())["parameters"]
    prompts, images = prompts_for(model_dir, args.samples)
    bare = BareLoop(model_dir, prompts, images, args.max_new_tokens)
    harness = Harness(model_dir, work / "run", args)
    bs1_samples = min(args.bs1_samples, len(prompts))

    # warm-up: one batch each way (first-call costs, lazy imports, the Shapes data)
    harness.run(args.batch_size)
    bare.run(args.batch_size, limit=args.batch_size)
    bare.run(1, limit=1)

    rounds: list[dict[str, Any]] = []
    for k in range(args.rounds):
        paths = {
            "harness": lambda: harness.run(len(prompts)),
            "bare": lambda: bare.run(args.batch_size),
            "bare_bs1": lambda: bare.run(1, limit=bs1_samples),
        }
        order = list(paths) if k % 2 == 0 else list(reversed(paths))  # cancel slow drifts
        got = {name: paths[name]() for name in order}
        if got["harness"].tokens != got["bare"].tokens:
            raise SystemExit(
                f"harness and bare loop generated {got['harness'].tokens} vs {got['bare'].tokens} tokens"
            )
        row: dict[str, Any] = {name: dataclasses.asdict(m) for name, m in got.items()}
        for clock in ("wall", "cpu"):
            h, b, b1 = (got[n].rate(clock) for n in ("harness", "bare", "bare_bs1"))
            row[f"{clock}_ratio_harness_vs_bare"] = h / b
            row[f"{clock}_ratio_harness_vs_bare_bs1"] = h / b1
        harness_run = got["harness"]
        assert harness_run.in_adapter_wall is not None
        row["harness_share_outside_adapter"] = 1 - harness_run.in_adapter_wall / harness_run.wall
        rounds.append(row)
        print(
            f"round {k + 1}: samples/s (wall | CPU) harness {got['harness'].rate('wall'):.3f} | "
            f"{got['harness'].rate('cpu'):.3f}, bare bs{args.batch_size} {got['bare'].rate('wall'):.3f} | "
            f"{got['bare'].rate('cpu'):.3f}, bare bs1 {got['bare_bs1'].rate('wall'):.3f} | "
            f"{got['bare_bs1'].rate('cpu'):.3f}; harness time outside the adapter call "
            f"{100 * row['harness_share_outside_adapter']:.2f} %",
            flush=True,
        )
    summary: dict[str, Any] = {
        "model": {"parameters": n_params, "image_tokens": (IMAGE_SIZE // PATCH_SIZE) ** 2},
        "samples": len(prompts),
        "bs1_samples": bs1_samples,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "rounds": rounds,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "libraries": {
            k: v for k, v in provenance.library_versions().items() if k in ("torch", "transformers")
        },
    }
    summary["median_harness_share_outside_adapter"] = statistics.median(
        r["harness_share_outside_adapter"] for r in rounds
    )
    print(
        "median share of the harness's wall time spent outside adapter.understand (runner overhead): "
        f"{100 * summary['median_harness_share_outside_adapter']:.2f} %"
    )
    for clock in ("wall", "cpu"):
        for key in ("harness_vs_bare", "harness_vs_bare_bs1"):
            summary[f"median_{clock}_ratio_{key}"] = statistics.median(
                r[f"{clock}_ratio_{key}"] for r in rounds
            )
        print(
            f"median {clock}-clock throughput ratio: harness / bare loop, both at batch size "
            f"{args.batch_size}: {summary[f'median_{clock}_ratio_harness_vs_bare']:.3f}; "
            f"harness at batch size {args.batch_size} / bare loop at batch size 1: "
            f"{summary[f'median_{clock}_ratio_harness_vs_bare_bs1']:.3f}"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "overhead.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
