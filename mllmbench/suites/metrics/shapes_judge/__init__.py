"""The offline Shapes judge: a small CNN that reads a Shapes-like image cell by cell.

``model`` (config + PreTrainedModel), ``train`` (the deterministic recipe behind
``mllm-bench judge train``), ``decide`` (its detections judged by GenEval's rules), ``features``
(its features for a Fréchet distance). The shipped checkpoint is ``checkpoint/`` in this package.
Nothing heavy is imported here.
"""

from pathlib import Path

CHECKPOINT_DIR = Path(__file__).parent / "checkpoint"
"""The shipped fp16 checkpoint (config.json, model.safetensors, recipe.json)."""
