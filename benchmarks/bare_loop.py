"""The bare batched loop that `engine_overhead.py` times as a whole process.

Only what a model needs: import torch and transformers, load the LLaVA checkpoint and its
processor, then per batch open the images, ``processor(text=, images=)`` -> ``generate`` (greedy)
-> ``batch_decode`` of the new tokens. The prompts come already rendered with the chat template
(an items JSONL of ``{"sample_id", "image", "prompt"}``), so this loop does even less than the
harness. It writes ``{"sample_id", "output"}`` lines, to check that both paths answered alike.

    python benchmarks/bare_loop.py MODEL_DIR ITEMS.jsonl OUT.jsonl --batch-size 8 --max-new-tokens 16
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("items")
    parser.add_argument("out")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args(argv)

    import torch
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    model = LlavaForConditionalGeneration.from_pretrained(args.model_dir, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(args.model_dir)
    processor.tokenizer.padding_side = "left"
    pad = processor.tokenizer.pad_token_id
    with open(args.items, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    outputs = []
    for start in range(0, len(items), args.batch_size):
        batch = items[start : start + args.batch_size]
        images = [Image.open(item["image"]).convert("RGB") for item in batch]
        inputs = processor(
            text=[item["prompt"] for item in batch], images=images, return_tensors="pt", padding=True
        )
        with torch.inference_mode():
            sequences = model.generate(
                **inputs, max_new_tokens=args.max_new_tokens, do_sample=False, pad_token_id=pad
            )
        texts = processor.batch_decode(sequences[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        outputs += [
            {"sample_id": item["sample_id"], "output": text.strip()}
            for item, text in zip(batch, texts, strict=True)
        ]
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(o) + "\n" for o in outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
