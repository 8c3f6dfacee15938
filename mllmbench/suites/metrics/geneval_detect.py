"""GenEval's detector and colour classifier through transformers, from local checkpoints.

* `Mask2FormerDetector`: a local ``Mask2FormerForUniversalSegmentation`` directory (with its image
  processor). Instance predictions come from the processor's
  ``post_process_instance_segmentation`` (top queries x classes, score = class probability x mask
  score, as mmdet's Mask2Former head); each instance's box is its mask's extent (mmdet's
  ``mask2bbox``: x2, y2 one past the last pixel). Class names are the checkpoint's ``id2label``
  (the COCO names of GenEval's object_names.txt for the COCO instance checkpoints).
* `ClipColorClassifier`: a local ``CLIPModel`` directory. GenEval's zero-shot colour
  classification: per object class, the ten colours x three templates ("a photo of a {c}
  {obj}", "a photo of a {c}-colored {obj}", "a photo of a {c} object"), text embeddings
  normalised, averaged over templates, normalised (clip_benchmark's ``zero_shot_classifier``);
  each detection is the image composited over grey ``#999`` through its mask, cropped to its box,
  and classified by the largest cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllmbench.suites.metrics.geneval_rules import GENEVAL_COLORS, Detection

COLOR_TEMPLATES = ("a photo of a {c} {obj}", "a photo of a {c}-colored {obj}", "a photo of a {c} object")
BACKGROUND = "#999"


def mask_box(mask: Any) -> tuple[float, float, float, float]:
    """(x1, y1, x2 + 1, y2 + 1) of the True pixels of a H x W mask; zeros when empty (mmdet mask2bbox)."""
    import numpy as np

    ys, xs = np.nonzero(np.asarray(mask))
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


class Mask2FormerDetector:
    """Instance detections of one image per class, unthresholded below `min_score`."""

    def __init__(self, path: str | Path, *, device: str | None = None, min_score: float = 0.0) -> None:
        from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

        from mllmbench.suites.metrics.image_features import local_model_dir, torch_device

        self.path = local_model_dir(path, "Mask2Former")
        self.device = torch_device(device)
        self.processor = AutoImageProcessor.from_pretrained(self.path)
        self.model = Mask2FormerForUniversalSegmentation.from_pretrained(self.path).to(self.device).eval()
        self.labels = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.min_score = min_score

    def detect(self, image: Any) -> dict[str, list[Detection]]:
        """class name -> detections (box, score, boolean mask at the image's size)."""
        import torch

        inputs = self.processor(images=[image], return_tensors="pt").to(self.device)
        with torch.no_grad():
            outputs = self.model(**inputs)
        (result,) = self.processor.post_process_instance_segmentation(
            outputs,
            threshold=self.min_score,
            target_sizes=[(image.height, image.width)],
            return_binary_maps=True,
        )
        out: dict[str, list[Detection]] = {}
        maps = result.get("segmentation")
        for k, info in enumerate(result.get("segments_info", [])):
            mask = maps[k].cpu().numpy().astype(bool)
            name = self.labels.get(int(info["label_id"]), str(info["label_id"]))
            out.setdefault(name, []).append(
                Detection(box=mask_box(mask), score=float(info["score"]), mask=mask)
            )
        return out


class ClipColorClassifier:
    """GenEval's CLIP colour classifier (see the module docstring)."""

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        from transformers import CLIPModel, CLIPProcessor

        from mllmbench.suites.metrics.image_features import local_model_dir, torch_device

        self.path = local_model_dir(path, "CLIP")
        self.device = torch_device(device)
        self.processor = CLIPProcessor.from_pretrained(self.path)
        self.model = CLIPModel.from_pretrained(self.path).to(self.device).eval()
        self._classifiers: dict[str, Any] = {}

    def _classifier(self, classname: str) -> Any:
        import torch

        if classname not in self._classifiers:
            weights = []
            for color in GENEVAL_COLORS:
                texts = [t.format(c=color, obj=classname) for t in COLOR_TEMPLATES]
                tokens = self.processor(text=texts, return_tensors="pt", padding=True).to(self.device)
                with torch.no_grad():
                    emb = self.model.get_text_features(**tokens)
                emb = getattr(emb, "pooler_output", emb)
                emb = emb / emb.norm(dim=-1, keepdim=True)
                mean = emb.mean(dim=0)
                weights.append(mean / mean.norm())
            self._classifiers[classname] = torch.stack(weights, dim=1)
        return self._classifiers[classname]

    def crops(self, image: Any, dets: Sequence[Detection]) -> list[Any]:
        """Each detection composited over grey through its mask and cropped to its box."""
        from PIL import Image

        rgb = image.convert("RGB")
        blank = Image.new("RGB", rgb.size, color=BACKGROUND)
        out = []
        for d in dets:
            im = rgb if d.mask is None else Image.composite(rgb, blank, Image.fromarray(d.mask))
            out.append(im.crop((d.box[0], d.box[1], d.box[2], d.box[3])))
        return out

    def __call__(self, image: Any, classname: str, dets: Sequence[Detection]) -> list[str]:
        """One colour name per detection."""
        import torch

        if not dets:
            return []
        pixels = self.processor(images=self.crops(image, dets), return_tensors="pt").to(self.device)
        with torch.no_grad():
            feats = self.model.get_image_features(**pixels)
        feats = getattr(feats, "pooler_output", feats)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        logits = 100.0 * feats @ self._classifier(classname)
        return [GENEVAL_COLORS[int(i)] for i in logits.argmax(dim=1)]
