"""PTB tokenisation exactly as pycocoevalcap's ``PTBTokenizer`` does it (METRICS.md §2.2).

pycocoevalcap writes its temporary file *inside the installed package*, which fails when
site-packages is read-only and leaves files behind there after a crash. This module runs the
same jar (pycocoevalcap's ``stanford-corenlp-3.4.1.jar``) with the same arguments on the same
input, but from a private temporary directory, and removes the same punctuation tokens
afterwards. The tests check that the output is identical to ``PTBTokenizer().tokenize``.

One deliberate difference: characters the Java tokenizer treats as line ends (``\\r``,
``\\v``, ``\\f``, U+2028, U+2029) become a space, as pycocoevalcap already does for ``\\n``.
pycocoevalcap leaves them in, which silently shifts every later caption onto the wrong image.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

from mllmbench.core.errors import MissingResourceError

log = logging.getLogger(__name__)

LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\u2028", "\u2029")
"""Characters that end a line for ``PTBTokenizer -preserveLines``; replaced by a space."""

_TOKENIZER_CLASS = "edu.stanford.nlp.process.PTBTokenizer"


def pycocoevalcap_dir() -> Path:
    """The installed pycocoevalcap package directory."""
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    return Path(ptb.__file__).resolve().parent.parent


def java_executable() -> str:
    """The ``java`` on PATH, or a `MissingResourceError` that says what to install."""
    java = shutil.which("java")
    if java is None:
        raise MissingResourceError("caption metrics need Java 8 or newer on PATH (pycocoevalcap runs jars)")
    return java


def ptb_tokenize(captions: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, list[str]]:
    """Tokenise every caption: ``{id: [caption, ...]}`` -> ``{id: [tokenised, ...]}``, order kept.

    Like pycocoevalcap, ids whose caption list is empty are absent from the result.
    """
    from pycocoevalcap.tokenizer import ptbtokenizer as ptb

    jar = Path(ptb.__file__).resolve().parent / ptb.STANFORD_CORENLP_3_4_1_JAR
    if not jar.is_file():
        raise MissingResourceError(f"pycocoevalcap's tokenizer jar is missing: {jar}")
    owners = [k for k, caps in captions.items() for _ in range(len(caps))]
    lines = [_one_line(c) for caps in captions.values() for c in caps]
    if not lines:
        return {}
    with tempfile.TemporaryDirectory(prefix="mllmbench-ptb-") as tmp:
        src = Path(tmp) / "captions.txt"
        src.write_bytes("\n".join(lines).encode())
        cmd = [java_executable(), "-cp", str(jar), _TOKENIZER_CLASS, "-preserveLines", "-lowerCase", src.name]
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"PTBTokenizer failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}"
        )
    log.debug("%s", proc.stderr.decode(errors="replace").strip())
    out_lines = proc.stdout.decode().split("\n")
    if len(out_lines) < len(lines) or any(x.strip() for x in out_lines[len(lines) :]):
        raise RuntimeError(f"PTBTokenizer returned {len(out_lines)} lines for {len(lines)} captions")
    result: dict[Hashable, list[str]] = {}
    for owner, line in zip(owners, out_lines, strict=False):
        kept = [w for w in line.rstrip().split(" ") if w not in ptb.PUNCTUATIONS]
        result.setdefault(owner, []).append(" ".join(kept))
    return result


def _one_line(caption: str) -> str:
    for ch in LINE_BREAKS:
        caption = caption.replace(ch, " ")
    return caption
