"""Where models run and in what precision: one device resolution, precision scopes that never leak.

Training may use bf16 autocast (and TF32 matmuls on a GPU) where the hardware runs them natively;
traces and evaluations always run in full fp32, whatever the caller set, so that the gates the
analyses read are the fused path's own values. Every switch is made inside a ``with`` block and
restored on leaving it: nothing changes PyTorch's global settings behind a caller's back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from lit_rnn.errors import UserError

PRECISIONS = ("auto", "fp32", "tf32", "bf16")


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` picks CUDA when present; ``cpu``, ``cuda`` and ``cuda:N`` are checked against the machine."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise UserError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for, but PyTorch sees no CUDA GPU; use --device cpu or auto")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise UserError(f"device {device!r} asked for, but there are {torch.cuda.device_count()} GPUs")
    elif resolved.type != "cpu":
        raise UserError(f"unsupported device {device!r}: use auto, cpu, cuda or cuda:N")
    return resolved


def describe(device: torch.device) -> str:
    """The hardware behind ``device``, for provenance records: the GPU's or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if line.startswith("model name")]
    threads = torch.get_num_threads()
    return f"{names[0] if names else 'CPU'} ({threads} thread{'' if threads == 1 else 's'})"


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 runs natively here: a bf16 GPU, or a CPU with AMX or AVX-512 bf16.

    Measured on a 2-core AMX CPU (bench/train_throughput.py): bf16 trains LSTMs ~1.5-1.9x faster.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """The training precision: ``fp32`` (exact), ``tf32`` (TF32 matmuls, GPU only) or ``bf16`` (autocast).

    ``auto`` is bf16 where it is native (:func:`native_bf16`), else fp32.
    """
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "tf32" and device.type != "cuda":
        raise UserError("precision tf32 exists only on a CUDA GPU; use fp32 or bf16 on a CPU")
    return precision


_SETTINGS_LOCK = threading.Lock()
_OPEN: list[bool] = []  # whether each settings block open now, in any thread, allows TF32
_BEFORE: list[tuple[str, bool]] = []  # fp32 matmul precision and cuDNN's TF32 switch before the first opened


def _allow_tf32(tf32: bool) -> None:
    """TF32 matmuls and cuDNN convolutions/RNNs on, or both off with fp32 matmuls at full precision."""
    if tf32:
        torch.backends.cuda.matmul.allow_tf32 = True  # the matmul precision "high"
    else:
        torch.set_float32_matmul_precision("highest")  # TF32 off
    torch.backends.cudnn.allow_tf32 = tf32


@contextlib.contextmanager
def _matmul_settings(tf32: bool) -> Iterator[None]:
    """CUDA's TF32 switches (matmuls and cuDNN) on, or off with full-precision fp32 matmuls. They are the process's:
    while blocks are open in several threads at once (packs training on streams beside an evaluation), TF32 is on
    only if all of them allow it, so an evaluation stays exact; the settings before the first block are restored
    after the last."""
    try:
        with _SETTINGS_LOCK:
            if not _OPEN:
                _BEFORE[:] = [(torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)]
            _OPEN.append(tf32)
            _allow_tf32(all(_OPEN))
        yield
    finally:
        with _SETTINGS_LOCK:
            if tf32 in _OPEN:  # not if interrupted before it opened
                _OPEN.remove(tf32)
            if _OPEN:
                _allow_tf32(all(_OPEN))
            else:
                torch.set_float32_matmul_precision(_BEFORE[0][0])
                torch.backends.cudnn.allow_tf32 = _BEFORE[0][1]


def exact_fp32() -> contextlib.AbstractContextManager[None]:
    """Full fp32 inside (TF32 off), as traces and evaluations need; the caller's settings are restored after."""
    return _matmul_settings(tf32=False)


def training_precision(precision: str) -> contextlib.AbstractContextManager[None]:
    """The matmul settings of a training run at ``precision`` (TF32 on a GPU for tf32 and bf16), restored after."""
    return _matmul_settings(tf32=precision in ("tf32", "bf16"))


LOSS_SCALE = 2.0**8
# bf16 autocast runs cuDNN's recurrent layers in fp16 (PyTorch's AutocastRNN.cpp), where the gradient of a loss
# averaged over 10,000 bytes lies mostly below fp16's normal numbers: unscaled, 39% of an LSTM 3x241's weight-gradient
# elements at initialisation flush to zero, 0.07% with the loss times 2^8; the largest gradient the layers store
# (0.13, measured at initialisation and trained) then stays far below fp16's 65,504. bench/fp16_gradients.md.


def scaled_backward(loss: torch.Tensor, parameters: Iterable[torch.Tensor], precision: str) -> None:
    """The gradients of ``loss`` in ``parameters``; at precision ``bf16`` computed from the loss times
    :data:`LOSS_SCALE` and divided by it after, so that fp16 recurrent layers on a GPU keep the small ones. A power
    of two: exact wherever nothing overflows or flushes, so on a CPU (bf16 has fp32's range) the same bit for bit."""
    scale = LOSS_SCALE if precision == "bf16" else 1.0
    (loss * scale).backward()
    if scale != 1.0:
        torch._foreach_div_([p.grad for p in parameters if p.grad is not None], scale)  # one launch, not one a tensor


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """bf16 autocast for the forward pass at precision ``bf16``; a no-op otherwise.

    Without autocast's cache of cast weights, which a CUDA graph's capture cannot hold (a forward pass casts each
    weight once, so the cache saves nothing here)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=False)
