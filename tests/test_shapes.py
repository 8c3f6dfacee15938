"""The synthetic Shapes dataset: determinism, official layouts, human-like answers, pixel truth, CLI."""

from __future__ import annotations

import colorsys
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mllmbench.cli.main import main
from mllmbench.core.errors import InputError
from mllmbench.suites import shapes

N_IMAGES = 40


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    shapes.generate_shapes(root, images=N_IMAGES, seed=0)
    return root


def _load(root: Path, rel: str) -> object:
    return json.loads((root / rel).read_text(encoding="utf-8"))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- official VQA answer normalisation (GT-Vision-Lab/VQA vqaEval.py HEAD, as in METRICS.md 1.1) --

_PUNCT = list(';/[]"{}()=+\\_-><@`,?!')  # the 21 characters, in the reference's order
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBERS = {w: str(i) for i, w in enumerate(_WORDS)}
_NUMBERS["none"] = "0"


def _official_normalise(s: str) -> str:
    s = s.replace("\n", " ").replace("\t", " ").strip()
    out = s
    for p in _PUNCT:
        if (p + " " in s or " " + p in s) or re.search(r"(\d)(,)(\d)", s):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    out = re.compile(r"(?!<=\d)(\.)(?!\d)").sub("", out, re.UNICODE)
    words = [_NUMBERS.get(w, w) for w in out.lower().split()]
    return " ".join(w for w in words if w not in ("a", "an", "the"))


def _normalised_answers(ann: dict) -> list[str]:
    answers = [a["answer"] for a in ann["answers"]]
    if len(set(answers)) == 1:  # the official tool normalises nothing when all ten agree
        return answers
    return [_official_normalise(a) for a in answers]


# -- reading the truth back from the pixels ------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    color: str
    shape: str
    row: int
    col: int
    extent: int


def _hue_name(rgb: tuple[int, int, int]) -> str:
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    assert s > 0.5, f"washed-out colour {rgb}"
    hue = h * 360
    for name, lo, hi in [("red", -15, 15), ("orange", 15, 40), ("yellow", 40, 70), ("green", 90, 160),
                         ("blue", 190, 250), ("purple", 260, 320)]:  # fmt: skip
        if lo <= hue < hi or lo <= hue - 360 < hi:
            return name
    raise AssertionError(f"colour {rgb} (hue {hue:.0f}) has no name")


def _classify(mask: np.ndarray) -> str:
    """Tell the shape from a cropped binary mask, with no knowledge of how it was drawn."""
    h, w = mask.shape
    fill = mask.sum() / (h * w)
    runs = [int(np.count_nonzero(np.diff(np.concatenate(([0], row.astype(int), [0]))) == 1)) for row in mask]
    if max(runs) > 1:
        return "star"  # two separate legs at the bottom
    if fill > 0.9:
        return "square"
    if fill > 0.68:
        return "circle"
    widths = mask.sum(axis=1)
    widest = np.flatnonzero(widths == widths.max()).mean() / (h - 1)
    return "triangle" if widest > 0.75 else "diamond"


def _blobs(path: Path) -> list[Blob]:
    from scipy import ndimage

    arr = np.asarray(Image.open(path).convert("RGB")).astype(int)
    foreground = (arr != 255).any(axis=-1)
    labels, n = ndimage.label(foreground, structure=np.ones((3, 3)))
    blobs = []
    for i in range(1, n + 1):
        ys, xs = np.nonzero(labels == i)
        colors = {tuple(c) for c in arr[ys, xs]}
        assert len(colors) == 1, f"{path.name}: shape {i} has {len(colors)} colours (anti-aliased?)"
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        crop = labels[y0 : y1 + 1, x0 : x1 + 1] == i
        size = arr.shape[0]
        blobs.append(
            Blob(
                color=_hue_name(colors.pop()),
                shape=_classify(crop),
                row=int((y0 + y1) / 2 * 3 // size),
                col=int((x0 + x1) / 2 * 3 // size),
                extent=int(max(y1 - y0, x1 - x0) + 1),
            )
        )
    return blobs


_POSITION = [
    ["top left", "top", "top right"],
    ["left", "center", "right"],
    ["bottom left", "bottom", "bottom right"],
]


def _answer_from_pixels(question: str, blobs: list[Blob]) -> str:
    def only(**kw: str) -> Blob:
        found = [b for b in blobs if all(getattr(b, k) == v for k, v in kw.items())]
        assert len(found) == 1, f"{question!r}: {len(found)} shapes match {kw}"
        return found[0]

    yes = {True: "yes", False: "no"}
    if re.fullmatch(r"How many shapes are (there|in the picture)\?", question):
        return str(len(blobs))
    if m := re.fullmatch(r"How many (\w+) shapes are there\?", question):
        return str(sum(b.color == m[1] for b in blobs))
    if m := re.fullmatch(r"How many (\w+)s are there\?", question):
        return str(sum(b.shape == m[1] for b in blobs))
    if m := re.fullmatch(r"Is there an? (\w+) (\w+)\?", question):
        return yes[any(b.color == m[1] and b.shape == m[2] for b in blobs)]
    if m := re.fullmatch(r"Are there any (\w+) shapes\?", question):
        return yes[any(b.color == m[1] for b in blobs)]
    if m := re.fullmatch(r"What color is the (\w+)\?", question):
        return only(shape=m[1]).color
    if m := re.fullmatch(r"What shape is the (\w+) object\?", question):
        return only(color=m[1]).shape
    if m := re.fullmatch(r"Where is the (\w+) (\w+)\?", question):
        b = only(color=m[1], shape=m[2])
        return _POSITION[b.row][b.col]
    if m := re.fullmatch(
        r"Is the (\w+) (\w+) (on the left|on the right|at the top|at the bottom)\?", question
    ):
        b = only(color=m[1], shape=m[2])
        side = {"on the left": b.col == 0, "on the right": b.col == 2, "at the top": b.row == 0}
        return yes[side.get(m[3], b.row == 2)]
    if m := re.fullmatch(r"Is the (\w+) (\w+) (large|small)\?", question):
        large = only(color=m[1], shape=m[2]).extent >= 24
        return yes[large == (m[3] == "large")]
    if m := re.fullmatch(r"What is in the (.+?)(?: corner)?\?", question):
        cell = [(r, c) for r in range(3) for c in range(3) if _POSITION[r][c] == m[1]]
        assert len(cell) == 1, question
        found = [b for b in blobs if (b.row, b.col) == cell[0]]
        assert len(found) == 1, question
        return f"{found[0].color} {found[0].shape}"
    raise AssertionError(f"question not understood by the test: {question!r}")


# -- tests ---------------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path, data_dir: Path) -> None:
    again = shapes.generate_shapes(tmp_path / "again", images=N_IMAGES, seed=0)
    assert _tree(tmp_path / "again") == _tree(data_dir)
    assert again.fingerprint == shapes.read_manifest(data_dir).fingerprint

    other = shapes.generate_shapes(tmp_path / "other", images=N_IMAGES, seed=1)
    assert other.fingerprint != again.fingerprint
    a, b = _tree(data_dir), _tree(tmp_path / "other")
    differing = [k for k in a if k.startswith("images/") and a[k] != b[k]]
    assert len(differing) > N_IMAGES * 0.9
    for rel in (shapes.VQA_QUESTIONS, shapes.VQA_ANNOTATIONS, shapes.CAPTIONS, shapes.T2I_PROMPTS):
        assert a[rel] != b[rel]


def test_image_k_depends_only_on_seed_and_k(tmp_path: Path, data_dir: Path) -> None:
    shapes.generate_shapes(tmp_path, images=5, seed=0)
    for k in range(1, 6):
        name = f"images/shapes_{k:012d}.png"
        assert (tmp_path / name).read_bytes() == (data_dir / name).read_bytes()


def test_manifest_and_readme(data_dir: Path) -> None:
    import hashlib

    m = _load(data_dir, shapes.MANIFEST)
    assert m["generator_version"] == shapes.GENERATOR_VERSION and m["seed"] == 0
    assert m["counts"] == {"images": N_IMAGES, "vqa_questions": 3 * N_IMAGES, "vqa_answers": 30 * N_IMAGES,
                           "captions": 5 * N_IMAGES, "t2i_prompts": N_IMAGES}  # fmt: skip
    on_disk = {str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()}
    assert set(m["files"]) == on_disk - {shapes.MANIFEST, shapes.README}
    for rel, digest in m["files"].items():
        assert hashlib.sha256((data_dir / rel).read_bytes()).hexdigest() == digest
    lines = "".join(f"{k}\t{m['files'][k]}\n" for k in sorted(m["files"]))
    assert m["fingerprint"] == hashlib.sha256(lines.encode()).hexdigest()
    readme = (data_dir / shapes.README).read_text()
    assert m["fingerprint"] in readme and "seed: 0" in readme and f"images: {N_IMAGES}" in readme


def test_images_open_and_are_referenced_by_id(data_dir: Path) -> None:
    q = _load(data_dir, shapes.VQA_QUESTIONS)
    files = {im["id"]: im["file_name"] for im in q["images"]}
    assert sorted(files) == list(range(1, N_IMAGES + 1))
    for image_id, name in files.items():
        with Image.open(data_dir / shapes.IMAGES_DIR / name) as im:
            assert (im.format, im.mode, im.size) == ("PNG", "RGB", (128, 128))
            assert not im.info  # no metadata chunks (time stamps, software, dpi)
        assert name == f"shapes_{image_id:012d}.png"


def test_caption_files_load_with_pycocotools(data_dir: Path) -> None:
    from pycocotools.coco import COCO

    for rel, per_image in ((shapes.CAPTIONS, 5), (shapes.T2I_PROMPTS, 1)):
        coco = COCO(str(data_dir / rel))
        assert sorted(coco.getImgIds()) == list(range(1, N_IMAGES + 1))
        ann_ids = coco.getAnnIds()
        assert len(ann_ids) == len(set(ann_ids)) == per_image * N_IMAGES
        for image_id in coco.getImgIds():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
            assert len(anns) == per_image and all(a["caption"].strip() for a in anns)
            assert len({a["caption"] for a in anns}) == per_image
            info = coco.loadImgs(image_id)[0]
            assert (data_dir / shapes.IMAGES_DIR / info["file_name"]).is_file()
            assert (info["width"], info["height"]) == (128, 128)
    coco = COCO(str(data_dir / shapes.CAPTIONS))
    res = coco.loadRes(str(data_dir / shapes.CAPTION_RESULTS_EXAMPLE))
    assert sorted(res.getImgIds()) == list(range(1, N_IMAGES + 1))


def test_vqa_files_have_the_official_layout(data_dir: Path) -> None:
    q = _load(data_dir, shapes.VQA_QUESTIONS)
    a = _load(data_dir, shapes.VQA_ANNOTATIONS)
    assert {"info", "task_type", "data_type", "data_subtype", "license", "questions"} <= set(q)
    assert q["task_type"] == "Open-Ended"
    assert {"info", "license", "data_subtype", "annotations"} <= set(a)
    questions = {x["question_id"]: x for x in q["questions"]}
    annotations = {x["question_id"]: x for x in a["annotations"]}
    assert len(questions) == len(q["questions"]) == 3 * N_IMAGES
    assert set(questions) == set(annotations)
    image_ids = {im["id"] for im in q["images"]}
    per_image = Counter(x["image_id"] for x in q["questions"])
    assert set(per_image) == image_ids and set(per_image.values()) == {3}
    for qid, ann in annotations.items():
        assert ann["image_id"] == questions[qid]["image_id"] and qid // 1000 == ann["image_id"]
        assert set(ann) == {"question_id", "image_id", "question_type", "answer_type",
                            "multiple_choice_answer", "answers"}  # fmt: skip
        assert [x["answer_id"] for x in ann["answers"]] == list(range(1, 11))
        assert all(set(x) == {"answer", "answer_confidence", "answer_id"} for x in ann["answers"])
        assert {x["answer_confidence"] for x in ann["answers"]} <= {"yes", "maybe", "no"}
        mca = ann["multiple_choice_answer"]
        expected_type = "yes/no" if mca in ("yes", "no") else "number" if mca.isdigit() else "other"
        assert ann["answer_type"] == expected_type
    results = _load(data_dir, shapes.VQA_RESULTS_EXAMPLE)
    assert sorted(r["question_id"] for r in results) == sorted(questions)


_EXPECTED_TYPES = [
    (r"How many ", "how many"),
    (r"Is there an ", "is there"),
    (r"Is there a ", "is there a"),
    (r"Are there any ", "are there any"),
    (r"What color is the ", "what color is the"),
    (r"What shape is the ", "what"),
    (r"Where is the ", "where is the"),
    (r"Is the ", "is the"),
    (r"What is in the ", "what is in the"),
]


def test_question_types_are_official_prefixes(data_dir: Path) -> None:
    q = {x["question_id"]: x["question"] for x in _load(data_dir, shapes.VQA_QUESTIONS)["questions"]}
    seen = set()
    for ann in _load(data_dir, shapes.VQA_ANNOTATIONS)["annotations"]:
        text = q[ann["question_id"]]
        expected = next(t for prefix, t in _EXPECTED_TYPES if text.startswith(prefix))
        assert ann["question_type"] == expected, text
        seen.add(expected)
    assert len(seen) >= 7
    assert shapes.QUESTIONS_PER_IMAGE == 3


def test_human_answers_vary_like_real_annotators(data_dir: Path) -> None:
    anns = _load(data_dir, shapes.VQA_ANNOTATIONS)["annotations"]
    raw = [x["answer"] for ann in anns for x in ann["answers"]]
    assert any(a != a.lower() for a in raw)  # case
    assert any(a.lower() in (*_WORDS, "none") for a in raw)  # number words
    assert any(re.match(r"(?i)(a|an|the) ", a) for a in raw)  # articles
    assert any(a.endswith(".") for a in raw) and any(a.endswith("!") or "-" in a for a in raw)  # punctuation
    unanimous = dissenting = 0
    for ann in anns:
        mca = ann["multiple_choice_answer"]
        norm = _normalised_answers(ann)
        votes = Counter(norm)
        assert votes.most_common(1)[0][0] == mca and votes[mca] >= 7, (mca, norm)
        unanimous += len({x["answer"] for x in ann["answers"]}) == 1
        dissenting += votes[mca] < 10
    assert 0 < unanimous < len(anns) * 0.4
    assert dissenting > len(anns) * 0.3
    for kind in ("yes/no", "number", "other"):  # every answer type has disagreement somewhere
        assert any(
            Counter(_normalised_answers(a))[a["multiple_choice_answer"]] < 10
            for a in anns
            if a["answer_type"] == kind
        )


def test_majority_answer_matches_the_rendered_image(data_dir: Path) -> None:
    questions = {x["question_id"]: x for x in _load(data_dir, shapes.VQA_QUESTIONS)["questions"]}
    scenes = {s["id"]: s for s in _load(data_dir, shapes.SCENES)["images"]}
    blobs = {i: _blobs(data_dir / shapes.IMAGES_DIR / scenes[i]["file_name"]) for i in scenes}
    for image_id, found in blobs.items():  # the pixel reader agrees with the recorded ground truth
        truth = sorted(
            (s["color"], s["shape"], s["row"], s["col"], s["size"]) for s in scenes[image_id]["shapes"]
        )
        read = sorted((b.color, b.shape, b.row, b.col, "large" if b.extent >= 24 else "small") for b in found)
        assert read == truth, image_id
    templates = Counter()
    for ann in _load(data_dir, shapes.VQA_ANNOTATIONS)["annotations"]:
        q = questions[ann["question_id"]]
        assert _answer_from_pixels(q["question"], blobs[q["image_id"]]) == ann["multiple_choice_answer"], q
        templates[re.sub(r"\b(red|orange|yellow|green|blue|purple)\b", "C", q["question"])[:12]] += 1
    assert len(templates) >= 8


def test_captions_vary_in_wording(data_dir: Path) -> None:
    captions = [a["caption"] for a in _load(data_dir, shapes.CAPTIONS)["annotations"]]
    assert any(c[0].isupper() for c in captions) and any(c[0].islower() for c in captions)
    assert any(c.endswith(".") for c in captions) and any(c[-1].isalpha() for c in captions)
    assert any(c.endswith("!") for c in captions)
    assert any(re.search(r"\b[2-5] \w+s\b", c) for c in captions)  # digits with plurals
    assert any(re.search(r"\b(two|three|four|five) \w+s\b", c) for c in captions)  # words with plurals
    assert any(re.search(r"\ban orange\b", c) for c in captions) and any(" a " in c for c in captions)
    prompts = [a["caption"] for a in _load(data_dir, shapes.T2I_PROMPTS)["annotations"]]
    scenes = _load(data_dir, shapes.SCENES)["images"]
    for prompt, scene in zip(prompts, scenes, strict=True):  # a prompt names every shape it expects
        for s in scene["shapes"]:
            assert f"{s['size']} {s['color']} {s['shape']}" in prompt


def test_results_writers(tmp_path: Path) -> None:
    shapes.write_vqa_results(tmp_path / "v.json", {2001: "two", 1000: "yes"})
    assert _load(tmp_path, "v.json") == [
        {"question_id": 1000, "answer": "yes"},
        {"question_id": 2001, "answer": "two"},
    ]
    shapes.write_caption_results(tmp_path / "c.json", {3: "a star", 1: "a circle"})
    assert _load(tmp_path, "c.json") == [
        {"image_id": 1, "caption": "a circle"},
        {"image_id": 3, "caption": "a star"},
    ]
    with pytest.raises(InputError, match="image id '3'"):
        shapes.caption_results({"3": "x"})  # type: ignore[dict-item]
    with pytest.raises(InputError, match="question id 5"):
        shapes.vqa_results({5: None})  # type: ignore[dict-item]


def test_ensure_shapes_reuses_repairs_and_regenerates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    assert shapes.ensure_shapes(root, images=12, seed=3) == root
    first = _tree(root)
    calls = []
    real = shapes.generate_shapes
    monkeypatch.setattr(shapes, "generate_shapes", lambda *a, **k: calls.append(k) or real(*a, **k))
    shapes.ensure_shapes(root, images=12, seed=3)
    assert calls == []  # intact: reused
    (root / "images" / "shapes_000000000004.png").write_bytes(b"broken")
    shapes.ensure_shapes(root, images=12, seed=3)
    assert len(calls) == 1 and _tree(root) == first  # changed file: regenerated identically
    (root / shapes.VQA_ANNOTATIONS).unlink()
    shapes.ensure_shapes(root, images=12, seed=3)
    assert len(calls) == 2 and _tree(root) == first
    (root / shapes.MANIFEST).write_text("{not json")
    shapes.ensure_shapes(root, images=12, seed=3)
    assert len(calls) == 3 and _tree(root) == first
    shapes.ensure_shapes(root, images=5, seed=3)  # other count: regenerated, surplus images removed
    assert len(calls) == 4 and len(list((root / "images").glob("*.png"))) == 5
    shapes.ensure_shapes(root, images=5, seed=4)
    assert len(calls) == 5 and shapes.read_manifest(root).seed == 4


def test_ensure_shapes_default_location_is_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mllmbench.core.paths import default_shapes_dir

    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "xdg"))
    root = shapes.ensure_shapes()
    assert root == default_shapes_dir() and root.is_relative_to(tmp_path)
    assert shapes.read_manifest(root).images == shapes.DEFAULT_IMAGES == 200


def test_generate_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="got 0"):
        shapes.generate_shapes(tmp_path, images=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        shapes.generate_shapes(tmp_path / "file", images=1)


def test_cli_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["data", "shapes", "--out", str(tmp_path), "--images", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path)
    assert "images 10," in out[1] and "VQA questions 30" in out[1] and "captions 50" in out[1]
    manifest = shapes.read_manifest(tmp_path)
    assert manifest is not None and manifest.images == 10 and out[2].endswith(manifest.fingerprint)
    assert len(list((tmp_path / "images").glob("shapes_*.png"))) == 10

    assert main(["data", "shapes", "--out", str(tmp_path / "x"), "--images", "0"]) == 2
    assert "got 0" in capsys.readouterr().err

    monkeypatch.setenv("MLLMBENCH_CACHE", str(tmp_path / "cache"))
    assert main(["data", "shapes", "--images", "2", "--seed", "7"]) == 0
    from mllmbench.core.paths import default_shapes_dir

    assert capsys.readouterr().out.splitlines()[0] == str(default_shapes_dir())
    assert shapes.read_manifest(default_shapes_dir()).seed == 7


def test_importing_the_generator_and_command_is_light() -> None:
    code = (
        "import sys, mllmbench.suites.shapes, mllmbench.cli.commands.data\n"
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'tqdm', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
