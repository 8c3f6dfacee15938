"""Percentile-bootstrap replicates of the corpus caption metrics (METRICS.md §6).

Images are resampled with replacement and the *whole* corpus metric is recomputed on every
resample, CIDEr's document frequencies included (a duplicated image counts as two documents).
Captions are tokenised and n-gram-counted once, with pycocoevalcap's own cooking functions; each
resample then only re-weights those counts:

- BLEU: corpus BLEU is a function of summed per-image counts (test length, closest reference
  length, guesses and matches per n), so a resample is a weighted sum.
- ROUGE-L: the per-image F-scores do not depend on the set; a resample is their weighted mean.
- CIDEr-D: df, idf and every norm change per resample; with idf >= 0 all sums are linear in
  idf^2, so each resample is a handful of sparse matrix products.
- METEOR: the jar's sufficient statistics per image are computed once; each resample sends one
  ``EVAL`` line with the resampled statistics, exactly what ``Meteor.compute_score`` sends.

The tests check every replicate function against pycocoevalcap run on the same resample.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Gts = Mapping[Hashable, Sequence[str]]
Res = Mapping[Hashable, Sequence[str]]


def resample_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` x ``n`` image indices drawn with replacement (numpy PCG64, fixed seed)."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def index_weights(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each image occurs in each resample: ``resamples`` x ``n`` counts."""
    import numpy as np

    return np.stack([np.bincount(row, minlength=n) for row in indices]).astype(float)


def bleu_replicates(
    gts: Gts, res: Res, ids: Sequence[Hashable], weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Corpus BLEU-1..4 (option ``closest``) of every resample."""
    import numpy as np
    from pycocoevalcap.bleu.bleu_scorer import BleuScorer

    scorer = BleuScorer(n=4)
    for key in ids:
        scorer += (res[key][0], list(gts[key]))
    comps = scorer.ctest
    testlen = np.array([c["testlen"] for c in comps], dtype=float)
    reflen = np.array(
        [scorer._single_reflen(c["reflen"], "closest", c["testlen"]) for c in comps], dtype=float
    )
    guess = np.array([c["guess"] for c in comps], dtype=float)
    correct = np.array([c["correct"] for c in comps], dtype=float)
    tiny, small = 1e-15, 1e-9
    total_test, total_ref = weights @ testlen, weights @ reflen
    total_guess, total_correct = weights @ guess, weights @ correct
    ratio = (total_test + tiny) / (total_ref + small)
    with np.errstate(divide="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    out = {}
    bleu = np.ones(len(weights))
    for k in range(4):
        bleu = bleu * (total_correct[:, k] + tiny) / (total_guess[:, k] + small)
        out[f"Bleu_{k + 1}"] = bleu ** (1.0 / (k + 1)) * penalty
    return out


def mean_replicates(per_image: Sequence[float], weights: np.ndarray) -> np.ndarray:
    """The weighted mean of per-image scores that do not depend on the set (ROUGE-L)."""
    import numpy as np

    return weights @ np.asarray(per_image, dtype=float) / weights.shape[1]


def cider_replicates(
    gts: Gts, res: Res, ids: Sequence[Hashable], weights: np.ndarray, n: int = 4, sigma: float = 6.0
) -> np.ndarray:
    """Corpus CIDEr-D of every resample, with df recomputed on the resampled documents."""
    import numpy as np
    import scipy.sparse as sp
    from pycocoevalcap.cider.cider_scorer import cook_refs, cook_test

    vocab: dict[tuple[str, ...], int] = {}
    doc_rows: list[int] = []  # image x n-gram: present in one of its references
    doc_cols: list[int] = []
    hyp_sq: tuple[list[int], list[int], list[int]] = ([], [], [])  # image x n-gram: tf_h^2
    ref_sq: tuple[list[int], list[int], list[int]] = ([], [], [])  # reference x n-gram: tf_r^2
    overlap: tuple[list[int], list[int], list[int]] = ([], [], [])  # ref x n-gram: min(tf_h, tf_r) tf_r
    ref_image: list[int] = []
    length_gap: list[float] = []

    def bigram_count(counts: Mapping[tuple[str, ...], int]) -> int:
        return sum(tf for gram, tf in counts.items() if len(gram) == 2)  # quirk Q10

    for i, key in enumerate(ids):
        hyp = cook_test(res[key][0], n)
        hyp_len = bigram_count(hyp)
        _extend(hyp_sq, i, [vocab.setdefault(g, len(vocab)) for g in hyp], [tf * tf for tf in hyp.values()])
        present: set[int] = set()
        for ref in cook_refs(list(gts[key]), n):
            r = len(ref_image)
            cols = [vocab.setdefault(g, len(vocab)) for g in ref]
            present.update(cols)
            _extend(ref_sq, r, cols, [tf * tf for tf in ref.values()])
            shared = [
                (c, min(hyp[g], tf) * tf) for c, (g, tf) in zip(cols, ref.items(), strict=True) if g in hyp
            ]
            _extend(overlap, r, [c for c, _ in shared], [v for _, v in shared])
            ref_image.append(i)
            length_gap.append(float(hyp_len - bigram_count(ref)))
        doc_rows.extend([i] * len(present))
        doc_cols.extend(present)

    n_img, n_ref, n_voc = len(ids), len(ref_image), len(vocab)
    order = np.zeros(n_voc, dtype=int)
    for gram, c in vocab.items():
        order[c] = len(gram) - 1
    # Columns sorted by n-gram order, so each order is one contiguous block of every matrix.
    perm = np.argsort(order, kind="stable")
    bounds = np.searchsorted(order[perm], np.arange(n + 1))
    blocks = [slice(bounds[k], bounds[k + 1]) for k in range(n)]
    docs_t = sp.csr_matrix((np.ones(len(doc_rows)), (doc_cols, doc_rows)), shape=(n_voc, n_img))[perm]
    hyp_m, ref_m, overlap_m = (
        [m[:, blk] for blk in blocks]
        for m in (
            _matrix(hyp_sq, (n_img, n_voc))[:, perm].tocsr(),
            _matrix(ref_sq, (n_ref, n_voc))[:, perm].tocsr(),
            _matrix(overlap, (n_ref, n_voc))[:, perm].tocsr(),
        )
    )
    ref_image_a = np.asarray(ref_image)
    penalty = np.exp(-(np.asarray(length_gap) ** 2) / (2 * sigma**2))
    refs_per_image = np.bincount(ref_image_a, minlength=n_img).astype(float)
    log_n = math.log(float(n_img))

    out = np.empty(len(weights))
    for b, w in enumerate(weights):
        idf_sq = (log_n - np.log(np.maximum(1.0, docs_t @ w))) ** 2
        per_order = np.zeros(n_img)
        for k, blk in enumerate(blocks):
            s = idf_sq[blk]
            norm_h = np.sqrt(hyp_m[k] @ s)[ref_image_a]
            norm_r = np.sqrt(ref_m[k] @ s)
            num = overlap_m[k] @ s
            denom = norm_h * norm_r
            val = np.divide(num, denom, out=num.copy(), where=denom != 0) * penalty
            per_order += np.bincount(ref_image_a, weights=val, minlength=n_img)
        score = per_order / n / refs_per_image * 10.0
        out[b] = w @ score / n_img
    return out


def _extend(
    cells: tuple[list[int], list[int], list[int]], row: int, cols: list[int], vals: list[int]
) -> None:
    cells[0].extend([row] * len(cols))
    cells[1].extend(cols)
    cells[2].extend(vals)


def _matrix(cells: tuple[list[int], list[int], list[int]], shape: tuple[int, int]):  # type: ignore[no-untyped-def]
    import numpy as np
    import scipy.sparse as sp

    rows, cols, vals = cells
    return sp.csr_matrix((np.asarray(vals, dtype=float), (rows, cols)), shape=shape)


def meteor_replicates(
    meteor: object, gts: Gts, res: Res, ids: Sequence[Hashable], indices: np.ndarray
) -> np.ndarray:
    """Corpus METEOR of every resample, from one running pycocoevalcap ``Meteor`` process.

    Uses the same ``SCORE`` and ``EVAL`` protocol as ``Meteor.compute_score``: the statistics of
    each image once, then one ``EVAL`` line per resample with the resampled statistics.
    """
    import numpy as np

    stats = [meteor._stat(res[key][0], list(gts[key])) for key in ids]  # type: ignore[attr-defined]
    proc = meteor.meteor_p  # type: ignore[attr-defined]
    out = np.empty(len(indices))
    with meteor.lock:  # type: ignore[attr-defined]
        for b, row in enumerate(indices):
            line = "EVAL ||| " + " ||| ".join(stats[j] for j in row)
            proc.stdin.write(f"{line}\n".encode())
            proc.stdin.flush()
            for _ in range(len(row)):
                proc.stdout.readline()
            out[b] = float(proc.stdout.readline().strip())
    return out
