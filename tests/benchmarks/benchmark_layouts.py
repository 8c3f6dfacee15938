"""Small copies of each benchmark's files, written from the documented schemas.

Every builder writes a handful of records in the exact layout a user has on disk (the official
release, or the Hugging Face parquet files lmms-eval reads) and returns the data directory.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]


def write_jpeg(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG")
    return path


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def image_struct(color: tuple[int, int, int], path: str | None = None) -> dict[str, Any]:
    """A ``datasets.Image`` cell."""
    return {"bytes": png_bytes(color), "path": path}


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


# ------------------------------------------------------------------------------- VQAv2 / OK-VQA
VQA_ROWS = [
    # (question_id, image_id, question, answers, question_type, answer_type)
    (4200, 42, "What color is the bus?", ["red"] * 6 + ["blue"] * 3 + ["dark red"], "what color", "other"),
    (4201, 42, "Is it raining?", ["no"] * 9 + ["yes"], "is it", "yes/no"),
    (4300, 43, "How many dogs are there?", ["2"] * 2 + ["3"] * 8, "how many", "number"),
    (4400, 44, "What is on the table?", ["cake"] * 4 + ["pie"] * 4 + ["food"] * 2, "what is on the", "other"),
]


def vqa_answer_dicts(answers: list[str]) -> list[dict[str, Any]]:
    return [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k, a in enumerate(answers)]


def vqa_official(root: Path, questions_name: str, annotations_name: str) -> Path:
    """VQAv2-format questions and annotations plus COCO ``val2014/`` images."""
    questions = [{"image_id": img, "question": q, "question_id": qid} for qid, img, q, *_ in VQA_ROWS]
    annotations = [
        {
            "question_id": qid,
            "image_id": img,
            "question_type": qtype,
            "answer_type": atype,
            "multiple_choice_answer": answers[0],
            "answers": vqa_answer_dicts(answers),
        }
        for qid, img, _q, answers, qtype, atype in VQA_ROWS
    ]
    write_json(
        root / questions_name,
        {
            "info": {},
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "data_subtype": "val2014",
            "questions": questions,
        },
    )
    write_json(root / annotations_name, {"info": {}, "data_subtype": "val2014", "annotations": annotations})
    for k, img in enumerate(sorted({r[1] for r in VQA_ROWS})):
        write_jpeg(root / "val2014" / f"COCO_val2014_{img:012d}.jpg", COLORS[k])
    return root


def vqav2_official(root: Path) -> Path:
    return vqa_official(
        root, "v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json"
    )


def okvqa_official(root: Path) -> Path:
    return vqa_official(root, "OpenEnded_mscoco_val2014_questions.json", "mscoco_val2014_annotations.json")


def vqav2_parquet(root: Path, split: str = "validation", shards: int = 1) -> Path:
    """lmms-lab/VQAv2: answers as structs, one image per row."""
    colors = {img: COLORS[k] for k, img in enumerate(sorted({r[1] for r in VQA_ROWS}))}
    rows = [
        {
            "question_type": qtype,
            "multiple_choice_answer": answers[0],
            "answers": vqa_answer_dicts(answers),
            "image_id": img,
            "answer_type": atype,
            "question_id": qid,
            "question": q,
            "image": image_struct(colors[img], f"COCO_val2014_{img:012d}.jpg"),
        }
        for qid, img, q, answers, qtype, atype in VQA_ROWS
    ]
    per = -(-len(rows) // shards)
    for s in range(shards):
        write_parquet(
            root / "data" / f"{split}-{s:05d}-of-{shards:05d}.parquet", rows[s * per : (s + 1) * per]
        )
    return root


def okvqa_parquet(root: Path) -> Path:
    """lmms-lab/OK-VQA: answers as a list of strings."""
    rows = [
        {
            "question_type": qtype,
            "answers": answers,
            "answer_type": atype,
            "question_id": qid,
            "question": q,
            "image": image_struct(COLORS[k]),
        }
        for k, (qid, _img, q, answers, qtype, atype) in enumerate(VQA_ROWS)
    ]
    write_parquet(root / "data" / "val2014-00000-of-00001.parquet", rows)
    return root


# ------------------------------------------------------------------------------- TextVQA
TEXTVQA_ROWS = [
    # (question_id, image_id, question, answers, ocr tokens)
    (
        34602,
        "0054c91397f2fe05",
        "what is the brand of this Camera?",
        ["nikon"] * 7 + ["dakota"] * 3,
        ["nikon", "d40"],
    ),
    (34603, "005635e119b9f32f", "what does the sign say?", ["stop"] * 10, ["stop"]),
    (34604, "005635e119b9f32f", "what number is on the bus?", ["5"] * 3 + ["five"] * 3 + ["15"] * 4, ["15"]),
]


def textvqa_official(root: Path, *, with_ocr: bool = True) -> Path:
    data = [
        {
            "question": q,
            "image_id": img,
            "image_classes": ["Camera"],
            "flickr_original_url": "",
            "flickr_300k_url": "",
            "image_width": 24,
            "image_height": 16,
            "answers": answers,
            "question_tokens": q.split(),
            "question_id": qid,
            "set_name": "val",
        }
        for qid, img, q, answers, _ in TEXTVQA_ROWS
    ]
    write_json(
        root / "TextVQA_0.5.1_val.json",
        {"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": data},
    )
    if with_ocr:
        ocr = {img: tokens for _, img, _, _, tokens in TEXTVQA_ROWS}
        write_json(
            root / "TextVQA_Rosetta_OCR_v0.2_val.json",
            {"data": [{"image_id": img, "ocr_tokens": t, "ocr_info": []} for img, t in ocr.items()]},
        )
    for k, img in enumerate(sorted({r[1] for r in TEXTVQA_ROWS})):
        write_jpeg(root / "train_images" / f"{img}.jpg", COLORS[k])
    return root


def textvqa_parquet(root: Path) -> Path:
    rows = [
        {
            "image_id": img,
            "question_id": qid,
            "question": q,
            "question_tokens": q.split(),
            "image": image_struct(COLORS[k]),
            "image_width": 16,
            "image_height": 16,
            "answers": answers,
            "image_classes": ["Camera"],
            "set_name": "val",
            "ocr_tokens": tokens,
        }
        for k, (qid, img, q, answers, tokens) in enumerate(TEXTVQA_ROWS)
    ]
    write_parquet(root / "data" / "validation-00000-of-00001.parquet", rows)
    return root


# ------------------------------------------------------------------------------- VizWiz
VIZWIZ_ROWS = [
    # (image file, question, answers, answer_type, answerable)
    (
        "VizWiz_val_00000000.jpg",
        "Ok. There is another picture I hope it is a better one.",
        ["unanswerable"] * 8 + ["unsuitable"] * 2,
        "unanswerable",
        0,
    ),
    (
        "VizWiz_val_00000001.jpg",
        "Can you tell me what this medicine is please?",
        ["night time"] * 4 + ["night time medicine"] * 6,
        "other",
        1,
    ),
    ("VizWiz_val_00000002.jpg", "Is this milk?", ["yes"] * 10, "yes/no", 1),
]


def vizwiz_official(root: Path, annotations: str = "val.json") -> Path:
    items = [
        {
            "image": image,
            "question": q,
            "answers": [{"answer": a, "answer_confidence": "yes"} for a in answers],
            "answer_type": atype,
            "answerable": answerable,
        }
        for image, q, answers, atype, answerable in VIZWIZ_ROWS
    ]
    write_json(root / annotations, items)
    for k, (image, *_rest) in enumerate(VIZWIZ_ROWS):
        write_jpeg(root / "val" / image, COLORS[k])
    return root


def vizwiz_parquet(root: Path) -> Path:
    rows = [
        {
            "question_id": image.removesuffix(".jpg"),
            "image": image_struct(COLORS[k]),
            "question": q,
            "answers": answers,
            "category": atype,
        }
        for k, (image, q, answers, atype, _) in enumerate(VIZWIZ_ROWS)
    ]
    write_parquet(root / "data" / "val-00000-of-00001.parquet", rows)
    return root


# ------------------------------------------------------------------------------- GQA
GQA_ROWS = [
    # (question id, imageId, question, answer, structural, semantic)
    ("20968379", "n288870", "Do the shorts have dark color?", "yes", "verify", "attr"),
    ("20968380", "n288870", "Which side is the man on?", "left", "query", "rel"),
    ("201640614", "n161313", "Is the table white or brown?", "brown", "choose", "attr"),
]


def gqa_official(root: Path) -> Path:
    questions = {
        qid: {
            "semantic": [],
            "entailed": [],
            "equivalent": [qid],
            "question": q,
            "imageId": img,
            "isBalanced": True,
            "groups": {"global": None, "local": "10c-shorts_color"},
            "answer": a,
            "semanticStr": "",
            "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
            "types": {"detailed": "verifyAttr", "semantic": sem, "structural": struct},
            "fullAnswer": f"The answer is {a}.",
        }
        for qid, img, q, a, struct, sem in GQA_ROWS
    }
    write_json(root / "testdev_balanced_questions.json", questions)
    for k, img in enumerate(sorted({r[1] for r in GQA_ROWS})):
        write_jpeg(root / "images" / f"{img}.jpg", COLORS[k])
    return root


def gqa_parquet(root: Path, *, with_images: bool = True) -> Path:
    rows = [
        {
            "id": qid,
            "imageId": img,
            "question": q,
            "answer": a,
            "fullAnswer": f"The answer is {a}.",
            "isBalanced": True,
            "types": {"structural": struct, "semantic": sem, "detailed": "x"},
        }
        for qid, img, q, a, struct, sem in GQA_ROWS
    ]
    write_parquet(root / "testdev_balanced_instructions" / "testdev-00000-of-00001.parquet", rows)
    if with_images:
        images = [
            {"id": img, "image": image_struct(COLORS[k])}
            for k, img in enumerate(sorted({r[1] for r in GQA_ROWS}))
        ]
        write_parquet(root / "testdev_balanced_images" / "testdev-00000-of-00001.parquet", images)
    return root


# ------------------------------------------------------------------------------- captions
CAPTIONS = {
    391895: [
        "A man with a red helmet on a small moped on a dirt road.",
        "Man riding a motor bike on a dirt road on the countryside.",
        "A man riding on the back of a motorcycle.",
    ],
    522418: [
        "A woman wearing a net on her head cutting a cake.",
        "A woman cutting a large white sheet cake.",
        "A woman wearing a hair net cutting a large sheet cake.",
    ],
    184613: [
        "A child holding a flowered umbrella and petting a yak.",
        "A young man holding an umbrella next to a herd of cattle.",
        "a young boy barefoot holding an umbrella touching the horn of a cow",
    ],
    318219: [
        "A young boy standing in front of a computer keyboard.",
        "a little boy wearing headphones and looking at a computer monitor",
        "He is listening intently to the computer at school.",
    ],
}


def karpathy_coco(root: Path, *, with_images: bool = True) -> Path:
    """``dataset_coco.json`` with 3 test images and 1 train image."""
    images = []
    for k, (cocoid, caps) in enumerate(CAPTIONS.items()):
        split = "train" if k == 3 else "test"
        images.append(
            {
                "filepath": "val2014",
                "sentids": list(range(k * 10, k * 10 + len(caps))),
                "filename": f"COCO_val2014_{cocoid:012d}.jpg",
                "imgid": k,
                "split": split,
                "sentences": [
                    {"tokens": c.lower().split(), "raw": c, "imgid": k, "sentid": k * 10 + j}
                    for j, c in enumerate(caps)
                ],
                "cocoid": cocoid,
            }
        )
        if with_images:
            write_jpeg(root / "val2014" / f"COCO_val2014_{cocoid:012d}.jpg", COLORS[k])
    write_json(root / "dataset_coco.json", {"images": images, "dataset": "coco"})
    return root


def karpathy_coco_parquet(root: Path) -> Path:
    """yerevann/coco-karpathy ``test``: URLs only, plus the local ``val2014/`` folder."""
    rows = []
    for k, (cocoid, caps) in enumerate(list(CAPTIONS.items())[:3]):
        name = f"COCO_val2014_{cocoid:012d}.jpg"
        rows.append(
            {
                "filepath": "val2014",
                "sentids": [k * 10 + j for j in range(len(caps))],
                "filename": name,
                "imgid": k,
                "split": "test",
                "sentences": caps,
                "cocoid": cocoid,
                "url": f"http://images.cocodataset.org/val2014/{name}",
            }
        )
        write_jpeg(root / "val2014" / name, COLORS[k])
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows)
    return root


FLICKR = {
    "1000092795": [
        "Two young guys with shaggy hair look at their hands while hanging out in the yard.",
        "Two young, White males are outside near many bushes.",
        "Two men in green shirts are standing in a yard.",
    ],
    "10002456": [
        "Several men in hard hats are operating a giant pulley system.",
        "Workers look down from up above on a piece of equipment.",
        "Two men working on a machine wearing hard hats.",
    ],
    "1000268201": [
        "A child in a pink dress is climbing up a set of stairs in an entry way.",
        "A little girl in a pink dress going into a wooden cabin.",
        "A little girl climbing the stairs to her playhouse.",
    ],
}


def karpathy_flickr(root: Path) -> Path:
    images = []
    for k, (fid, caps) in enumerate(FLICKR.items()):
        images.append(
            {
                "sentids": [k * 5 + j for j in range(len(caps))],
                "imgid": k,
                "sentences": [
                    {"tokens": c.lower().split(), "raw": c, "imgid": k, "sentid": k * 5 + j}
                    for j, c in enumerate(caps)
                ],
                "split": "test" if k < 2 else "val",
                "filename": f"{fid}.jpg",
            }
        )
        write_jpeg(root / "flickr30k-images" / f"{fid}.jpg", COLORS[k])
    write_json(root / "dataset_flickr30k.json", {"images": images, "dataset": "flickr30k"})
    return root


def flickr_parquet(root: Path) -> Path:
    rows = [
        {
            "image": image_struct(COLORS[k]),
            "caption": caps,
            "sentids": [str(k * 5 + j) for j in range(len(caps))],
            "img_id": str(k),
            "filename": f"{fid}.jpg",
        }
        for k, (fid, caps) in enumerate(FLICKR.items())
    ]
    write_parquet(root / "data" / "test-00000-of-00001.parquet", rows)
    return root


NOCAPS = [
    # (id, open_images_id, domain, captions)
    (
        0,
        "0013ea2087020901",
        "in-domain",
        [
            "A baby is standing in front of a house.",
            "A little girl in a white jacket and sandals.",
            "A young child stands in front of a house.",
        ],
    ),
    (
        1,
        "002d8bbd36113f36",
        "near-domain",
        [
            "A red and white bus driving down the street.",
            "A big bus is on a city street.",
            "A double decker bus drives on the road.",
        ],
    ),
    (
        2,
        "004edfbf9b5b7a56",
        "out-domain",
        [
            "A jellyfish floating in dark blue water.",
            "A purple jellyfish in the ocean.",
            "An orange jelly fish swimming in the sea.",
        ],
    ),
    (
        3,
        "0051cd5e8ab26d38",
        "near-domain",
        [
            "A man riding a horse on a beach.",
            "A person on a brown horse near the water.",
            "Someone rides a horse along the shore.",
        ],
    ),
]


def nocaps_official(root: Path, images_dir: str = "images", *, with_images: bool = True) -> Path:
    images, annotations = [], []
    for k, (iid, oid, domain, caps) in enumerate(NOCAPS):
        images.append(
            {
                "id": iid,
                "open_images_id": oid,
                "height": 16,
                "width": 24,
                "coco_url": f"https://s3.amazonaws.com/nocaps/val/{oid}.jpg",
                "file_name": f"{oid}.jpg",
                "license": 0,
                "date_captured": "2018-11-06 11:04:33",
                "domain": domain,
            }
        )
        annotations += [{"image_id": iid, "id": iid * 10 + j, "caption": c} for j, c in enumerate(caps)]
        if with_images:
            write_jpeg(root / images_dir / f"{oid}.jpg", COLORS[k])
    write_json(
        root / "nocaps_val_4500_captions.json",
        {"licenses": [], "info": {}, "images": images, "annotations": annotations},
    )
    return root


def nocaps_parquet(root: Path, *, domain_column: bool = False) -> Path:
    rows = []
    for k, (iid, oid, domain, caps) in enumerate(NOCAPS):
        row = {
            "image": image_struct(COLORS[k]),
            "image_coco_url": "",
            "image_date_captured": "",
            "image_file_name": f"{oid}.jpg",
            "image_height": 16,
            "image_width": 16,
            "image_id": iid,
            "image_license": 0,
            "image_open_images_id": oid,
            "annotations_ids": [iid * 10 + j for j in range(len(caps))],
            "annotations_captions": caps,
        }
        if domain_column:
            row["image_domain"] = domain
        rows.append(row)
    write_parquet(root / "data" / "validation-00000-of-00001.parquet", rows)
    return root


def coco_captions_file(path: Path, captions: dict[int, list[str]], prefix: str) -> Path:
    images = [{"id": i, "file_name": f"{prefix}{i:012d}.jpg", "height": 16, "width": 24} for i in captions]
    anns = [
        {"id": i * 10 + j, "image_id": i, "caption": c}
        for i, caps in captions.items()
        for j, c in enumerate(caps)
    ]
    return write_json(path, {"info": {}, "licenses": [], "images": images, "annotations": anns})


def coco2017_official(root: Path) -> Path:
    coco_captions_file(root / "annotations" / "captions_val2017.json", CAPTIONS, "")
    for k, i in enumerate(CAPTIONS):
        write_jpeg(root / "val2017" / f"{i:012d}.jpg", COLORS[k])
    return root


def coco2017_parquet(root: Path) -> Path:
    rows = [
        {
            "question_id": f"{i:012d}.jpg",
            "image": image_struct(COLORS[k]),
            "question": "Please carefully observe the image and come up with a caption for the image",
            "answer": caps,
            "id": k,
            "license": 1,
            "file_name": f"{i:012d}.jpg",
            "coco_url": "",
            "height": 16,
            "width": 16,
            "date_captured": "",
        }
        for k, (i, caps) in enumerate(CAPTIONS.items())
    ]
    write_parquet(root / "data" / "val-00000-of-00001.parquet", rows)
    return root


def coco_t2i_official(root: Path, n_images: int = 6, size: tuple[int, int] = (40, 24)) -> Path:
    captions = {100 + i: [f"photo number {i} caption {j}" for j in range(5)] for i in range(n_images)}
    coco_captions_file(root / "annotations" / "captions_val2014.json", captions, "COCO_val2014_")
    for k, i in enumerate(captions):
        write_jpeg(root / "val2014" / f"COCO_val2014_{i:012d}.jpg", COLORS[k % len(COLORS)], size)
    return root
