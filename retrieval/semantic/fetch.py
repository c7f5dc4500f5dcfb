"""Fetching the official all-MiniLM-L6-v2 ONNX model and checking it before it is used (`paperbot model fetch`)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from retrieval.semantic.encoder import (
    OFFICIAL_BASE,
    OFFICIAL_FILES,
    REFERENCE_MIN,
    Encoder,
    ModelUnavailable,
    reference_agreement,
    sha256_of,
)

# progress(file name, bytes so far, bytes in all or None when the server does not say)
Progress = Callable[[str, int, int | None], None]


def fetch(
    dest: Path,
    base_url: str = OFFICIAL_BASE,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> Path:
    """Download model.onnx and tokenizer.json into `dest`, check them, and write manifest.json.

    Checks: the SHA-256 given (as the hub's file page shows it), if any; then the model must
    give the reference sentences the verified model's vectors (cosine >= REFERENCE_MIN each). Only
    then is the manifest written that lets `locate_model` accept the file. A download that fails is
    a ModelUnavailable naming the address; a file that arrived whole is replaced only once it has.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only, a file in the way, a name too long, ...
        raise ModelUnavailable(f"cannot create the folder {dest}: {exc.strerror or exc}") from None
    for name, remote in OFFICIAL_FILES.items():
        url = base_url.rstrip("/") + "/" + remote
        part = dest / f".{name}.part"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, part.open("wb") as out:  # noqa: S310
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                while block := response.read(1 << 20):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(name, done, total)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError, ValueError) as exc:
            part.unlink(missing_ok=True)
            reason = getattr(exc, "reason", None) if not isinstance(exc, urllib.error.HTTPError) else None
            raise ModelUnavailable(
                f"cannot download {url}: {reason or exc or type(exc).__name__}; check the address and the network"
            ) from None
        except OSError as exc:  # the destination, not the network: full, read-only, ...
            part.unlink(missing_ok=True)
            raise ModelUnavailable(f"cannot write {dest / name}: {exc.strerror or exc}") from None
        part.replace(dest / name)
    digest = sha256_of(dest / "model.onnx")
    if sha256 and digest != sha256.lower():
        raise ModelUnavailable(f"{dest / 'model.onnx'}: SHA-256 {digest} is not the {sha256} asked for")
    try:
        encoder = Encoder(dest / "model.onnx", (dest / "tokenizer.json").read_text(), digest)
    except Exception as exc:  # onnxruntime's and tokenizers' errors have no common base
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelUnavailable(f"{dest / 'model.onnx'}: cannot be loaded ({first[:200]})") from None
    agreement = reference_agreement(encoder)
    if agreement < REFERENCE_MIN:
        raise ModelUnavailable(
            f"{dest / 'model.onnx'}: does not behave as all-MiniLM-L6-v2 (cosine {agreement:.3f} < {REFERENCE_MIN})"
        )
    part = dest / ".manifest.json.part"
    part.write_text(json.dumps({"sha256": digest, "source": base_url, "agreement": round(agreement, 4)}))
    part.replace(dest / "manifest.json")
    return dest
