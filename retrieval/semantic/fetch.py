"""Fetching the official all-MiniLM-L6-v2 ONNX model and checking it before it is used."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.semantic.encoder import (
    OFFICIAL_BASE,
    OFFICIAL_FILES,
    REFERENCE_FILE,
    Encoder,
    ModelUnavailable,
    sha256_of,
)

if TYPE_CHECKING:
    pass


def fetch(dest: Path, base_url: str = OFFICIAL_BASE, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download model.onnx and tokenizer.json into `dest`, check them, and write manifest.json.

    Checks: the SHA-256 given (as the hub's file page shows it), if any; then the model must
    give the reference sentences the verified model's vectors (cosine >= 0.99 each). Only
    then is the manifest written that lets `locate_model` accept the file.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name, remote in OFFICIAL_FILES.items():
        url = base_url.rstrip("/") + "/" + remote
        part = dest / f".{name}.part"
        with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:  # noqa: S310
            while block := response.read(1 << 20):
                out.write(block)
        part.replace(dest / name)
    digest = sha256_of(dest / "model.onnx")
    if sha256 and digest != sha256.lower():
        raise ModelUnavailable(f"{dest / 'model.onnx'}: SHA-256 {digest} is not the {sha256} asked for")
    encoder = Encoder(dest / "model.onnx", (dest / "tokenizer.json").read_text(), digest)
    reference = json.loads(REFERENCE_FILE.read_text())
    got = encoder.encode(reference["sentences"])
    want = np.array(reference["vectors"], np.float32)
    agreement = (got * want).sum(axis=1) / np.linalg.norm(want, axis=1)
    if float(agreement.min()) < 0.99:
        raise ModelUnavailable(
            f"{dest / 'model.onnx'}: does not behave as all-MiniLM-L6-v2 (cosine {agreement.min():.3f} < 0.99)"
        )
    part = dest / ".manifest.json.part"
    part.write_text(json.dumps({"sha256": digest, "source": base_url, "agreement": round(float(agreement.min()), 4)}))
    part.replace(dest / "manifest.json")
    return dest
