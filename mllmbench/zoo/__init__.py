"""The paradigm zoo: tiny understanding models trained on Shapes with one backbone and one budget.

Every member shares the vision tower size, the LLM size, the tokenizer, the training data and
the step budget (`mllmbench.zoo.backbone`); only the way vision meets language differs
(`mllmbench.zoo.members`). `mllmbench.zoo.train` is the training loop that reproduces a member
from its recipe; the trained fp16 checkpoints ship in ``mllmbench/zoo/checkpoints/<name>/`` and
load through each member's adapter as ``--model zoo:NAME`` (see `mllmbench.core.zoo_paths`).
"""
