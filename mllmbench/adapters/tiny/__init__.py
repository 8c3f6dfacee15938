"""Tiny random checkpoints of every built-in family, for tests and the embedded default.

One module per family (``llava.py``, ``blip2.py`` ...) holds that family's recipe as a ``build``
function; the family's adapter class exposes it as ``Adapter.build_tiny(out_dir, seed=...)``,
importing the recipe only when called. The shared pieces:

* `tokenizer`: the offline byte-level BPE tokenizer every recipe trains;
* `vision_towers`: the tiny ViT sizes (CLIP, SigLIP and the towers built like them);
* `language_models`: the tiny Llama, Mistral, OPT and Gemma configs and the chat LM of the
  two-stage adapters;
* `chat_templates`: the chat templates of the real hub checkpoints, given to the tiny ones;
* `checkpoint`: seeded construction and ``save_pretrained`` of model and processor.

A recipe builds real transformers/diffusers classes from small configs under
``torch.manual_seed(seed)``, so the same seed writes the same bytes.
"""
