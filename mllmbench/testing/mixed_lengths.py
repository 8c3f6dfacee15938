"""Shapes VQA with mixed prompt lengths: the data the length-sorting engine is tested and timed on.

The built-in Shapes questions are all about the same length, so batching them pads little. This
writes a copy in the same VQAv2 layout where each question is preceded by 0 to `max_repeats`
sentences of context, in an order that mixes short and long prompts in every batch. The images
are linked, not copied; the annotations are the originals.
"""

from __future__ import annotations

from pathlib import Path

from mllmbench.core.jsonio import read_json, write_json_atomic

CONTEXT_SENTENCE = "The picture shows simple coloured shapes on a plain background. "
"""The sentence repeated in front of a question."""


def repeats_for(index: int, max_repeats: int) -> int:
    """How many context sentences question `index` gets: a fixed scramble of 0..`max_repeats`."""
    return (index * 7) % (max_repeats + 1)


def write_mixed_length_vqa(shapes_dir: Path, out_dir: Path, *, max_repeats: int = 12) -> Path:
    """Write the mixed-length copy of the Shapes VQA set in `shapes_dir` to `out_dir`; returns it.

    Usable as ``mllm-bench run --suite vqa --data OUT_DIR``.
    """
    from mllmbench.suites import shapes

    questions = read_json(shapes_dir / shapes.VQA_QUESTIONS, what="Shapes VQA questions")
    for i, question in enumerate(questions["questions"]):
        question["question"] = CONTEXT_SENTENCE * repeats_for(i, max_repeats) + question["question"]
    (out_dir / shapes.VQA_QUESTIONS).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / shapes.VQA_QUESTIONS, questions)
    annotations = read_json(shapes_dir / shapes.VQA_ANNOTATIONS, what="Shapes VQA annotations")
    write_json_atomic(out_dir / shapes.VQA_ANNOTATIONS, annotations)
    images = out_dir / shapes.IMAGES_DIR
    if not images.exists():
        images.symlink_to((shapes_dir / shapes.IMAGES_DIR).resolve(), target_is_directory=True)
    return out_dir
