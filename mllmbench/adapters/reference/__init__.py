"""Reference implementations of paradigms that no library class covers, built from real parts.

Each module holds a ``PreTrainedModel`` + config pair (saved and loaded with
``save_pretrained``/``from_pretrained``, registered with ``AutoConfig`` and
``AutoModelForImageTextToText`` when the module is imported). Importing this package imports
nothing heavy; import the modules themselves:

* `visual_expert`: CogVLM's visual expert (per-token-type QKV and MLP experts in every layer);
* `adaption_prompt`: LLaMA-Adapter (peft's adaption prompts plus a per-sample visual prompt).
* `var`: VAR's next-scale prediction (a multi-scale residual VQ tokenizer over a diffusers
  ``VQModel`` and a Llama with a block-causal mask; registered with ``AutoModel``).
"""
