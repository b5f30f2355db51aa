"""Where and how numbers are computed: device, precision, seeding, freeing memory."""

import contextlib
import gc
import warnings

import torch

PRECISIONS = ("auto", "fp32", "bf16")
# Device types that hold tensors and compute ("meta" holds shapes only).
COMPUTE_DEVICES = ("cpu", "cuda", "mps", "xpu")


def resolve_device(device):
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if resolved.type not in COMPUTE_DEVICES:
        raise ValueError(
            f"device={device!r} is a torch device that holds no data to compute with; use "
            f"'auto' or one of {', '.join(COMPUTE_DEVICES)}."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}, but torch sees {torch.cuda.device_count()} CUDA device(s) "
            "here; use device='auto' (a GPU when there is one, else the CPU), 'cpu', or an "
            "index below that count."
        )
    return device


def inference_device(device):
    """The device to predict on: ``resolve_device``, except that a CUDA device
    this machine lacks falls back to the CPU (with a warning), so a model
    fitted on a GPU still predicts elsewhere."""
    try:
        return resolve_device(device)
    except ValueError as exc:
        # Only a CUDA device that is not here falls back; a bad name stays an error.
        try:
            missing_cuda = torch.device(device).type == "cuda"
        except (RuntimeError, TypeError):
            missing_cuda = False
        if not missing_cuda:
            raise exc
    warnings.warn(
        f"device={device!r} is not available here; predicting on the CPU. Set "
        "device='auto' or 'cpu' to silence this.", UserWarning, stacklevel=3)
    return "cpu"


def resolve_precision(precision, device):
    """``"auto"`` becomes ``"bf16"`` on GPUs that support it, else ``"fp32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}.")
    if precision != "auto":
        return precision
    on_gpu = torch.device(device).type == "cuda"
    return "bf16" if on_gpu and torch.cuda.is_bf16_supported() else "fp32"


def autocast(device, precision):
    """bf16 autocast context for ``precision="bf16"``, a no-op otherwise."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch inside the block and restore the caller's RNG state after."""
    gpus = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def free_accelerator_memory(device):
    """Collect garbage and hand cached GPU memory back (between fits of a grid search)."""
    gc.collect()
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
