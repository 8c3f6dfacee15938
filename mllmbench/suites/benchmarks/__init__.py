"""Standard benchmarks as suites, read from the user's local copy (``--data DIR``).

One module per benchmark: `vqav2`, `okvqa`, `textvqa`, `vizwiz`, `gqa` (VQA family),
`coco_karpathy`, `coco2017_cap`, `nocaps`, `flickr30k` (captioning) and `coco_t2i`
(text-to-image prompts). Each reads its official files or the Hugging Face parquet files
lmms-eval uses (`common`, `hf_parquet`) and never downloads anything.
"""
