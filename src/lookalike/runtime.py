"""Where a run computes, in which precision, with which seed (a leaf: imports nothing of ours)."""

from __future__ import annotations

import logging
import random
import secrets
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("lookalike")


def resolve_seed(seed: int) -> int:
    """-1 means a fresh random seed; the seed actually used is returned so it can be saved."""
    return secrets.randbelow(2**31 - 1) if seed == -1 else seed


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def select_device(gpus: list[int]) -> torch.device:
    """The first selected GPU when one is present, else the CPU (said in the log)."""
    if gpus and torch.cuda.is_available():
        index = gpus[0]
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"environment.gpus: GPU {index} does not exist "
                f"(this machine has {torch.cuda.device_count()}); choose 0.."
                f"{torch.cuda.device_count() - 1} or [] for the CPU"
            )
        return torch.device("cuda", index)
    if gpus:
        log.info("No GPU present: training on the CPU.")
    return torch.device("cpu")


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: stay in float32 on the CPU
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """bf16 where the device does it natively, fp16 on older GPUs, None for full precision."""
    if not enabled:
        return None
    if device.type == "cuda":
        # Native bf16 from Ampere on; older GPUs (T4, V100) take fp16 with a gradient scaler.
        native = torch.cuda.get_device_properties(device).major >= 8
        return torch.bfloat16 if native else torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
