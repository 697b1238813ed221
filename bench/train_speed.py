"""Time lookalike's training against a plain hand-written PyTorch loop doing the same work.

Both contenders train the same timm backbone with an ArcFace loss on scikit-learn's digits (as
32×32 PNGs, built by `lookalike.demo.build_digits_dataset`), on identical train/validation rows,
evaluating validation mAP@K with faiss after every epoch. They are timed alternately (A, B, A,
B, …) in one process so that load from other programs hits both alike; the medians are
compared. Optionally, a memory probe shows that `lookalike.retrieval.top_k_neighbors` grows
linearly with the number of embeddings.

Run: ``make bench`` (or ``.venv/bin/python bench/train_speed.py --help``).
"""

from __future__ import annotations

import os

# Offline, and no albumentations version check: set before the libraries are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import argparse
import contextlib
import functools
import json
import math
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import albumentations as A
import cv2
import faiss
import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses
from torch import nn
from torch.utils.data import DataLoader, Dataset, get_worker_info

from lookalike.config.io import config_from_dict
from lookalike.config.schema import Config
from lookalike.data.folds import split_train_validation
from lookalike.demo import build_digits_dataset
from lookalike.experiments.run import prepare, run_experiment

# --- the settings both contenders share ------------------------------------------------------

BACKBONE = "resnet10t"  # lookalike's demo backbone: small and quick on a CPU
IMAGE_SIZE = 32
BATCH_SIZE = 64
EPOCHS = 3
WORKERS = 2
EMBEDDING_SIZE = 128
MARGIN_RADIANS = 0.2  # lookalike's arcface_margin; pytorch-metric-learning wants degrees
SCALE = 30.0
LEARNING_RATE = 0.002
WEIGHT_DECAY = 1e-4
TOP_K = 20
SEED = 42
FOLD = 0


@dataclass
class Timing:
    seconds: float  # wall time of the whole run
    map_at_k: float  # validation mAP@K after the last epoch
    cpu_seconds: float = 0.0  # CPU time of this process and its DataLoader workers
    others_cpu_seconds: float = 0.0  # CPU time the rest of the machine used meanwhile
    page_faults: int = 0  # minor page faults of this process: first touches, copy-on-write
    phases: dict[str, float] = field(default_factory=dict)  # seconds per timed phase


def cpu_time() -> float:
    """User + system seconds of this process and of its children that have ended (workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds all processes (and the hypervisor's steal) used since boot: /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


# --- A: lookalike ----------------------------------------------------------------------------


def lookalike_config(data: Path, output: Path, name: str, epochs: int) -> Config:
    """lookalike settings matching the plain loop: Average pool, no dropout, no warmup, fp32."""
    return config_from_dict(
        {
            "experiment_name": name,
            "output_directory": str(output),
            "dataset": {
                "train_dataframe": str(data / "train.csv"),
                "data_folder": str(data / "images"),
                "image_column": "image",
                "label_columns": "label",
                "validation_strategy": "kfold",
                "folds": [FOLD],
            },
            "image": {
                "image_width": IMAGE_SIZE,
                "image_height": IMAGE_SIZE,
                "image_channels": 3,
                "image_normalization": "Simple",
            },
            "augmentation": {"augmentations_strategy": "Soft"},  # Resize + HorizontalFlip
            "architecture": {
                "backbone": BACKBONE,
                "pretrained": False,
                "embedding_size": EMBEDDING_SIZE,
                "pool": "Average",
                "dropout": 0.0,
            },
            "training": {
                "loss_function": "ArcFace",
                "arcface_margin": MARGIN_RADIANS,
                "arcface_scale": SCALE,
                "optimizer": "AdamW",
                "learning_rate": LEARNING_RATE,
                "weight_decay": WEIGHT_DECAY,
                "batch_size": BATCH_SIZE,
                "epochs": epochs,
                "schedule": "Cosine",
                "warmup_epochs": 0.0,
                "drop_last_batch": True,
                "evaluation_epochs": 1.0,
            },
            "prediction": {"top_k_similar": TOP_K},
            "environment": {
                "gpus": [],
                "mixed_precision_training": False,
                "mixed_precision_inference": False,
                "number_of_workers": WORKERS,
                "seed": SEED,
            },
        }
    )


def run_lookalike(data: Path, output: Path, name: str, epochs: int) -> Timing:
    """prepare + run_experiment, timed; every output file is written."""
    cfg = lookalike_config(data, output, name, epochs)
    started = time.perf_counter()
    folder = run_experiment(prepare(cfg))
    seconds = time.perf_counter() - started
    summary = json.loads((folder / "summary.json").read_text())
    return Timing(seconds, float(summary["metrics"]["validation"]["mAP"]))


def validation_images(data: Path, epochs: int) -> set[str]:
    """The validation rows lookalike uses, from its own split function (untimed, shared)."""
    cfg = lookalike_config(data, data, "split", epochs)
    frame = pd.read_csv(data / "train.csv")
    _, validation = split_train_validation(cfg.dataset, frame, None, FOLD, SEED)
    return set(validation["image"])


# --- B: the plain loop -----------------------------------------------------------------------


class PngDataset(Dataset):
    def __init__(self, paths: list[str], labels: np.ndarray, transform: A.Compose) -> None:
        self.paths, self.labels, self.transform = paths, labels, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = cv2.cvtColor(cv2.imread(self.paths[index], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        image = self.transform(image=image)["image"]
        return torch.from_numpy(image.transpose(2, 0, 1).copy()), int(self.labels[index])


def _seed_worker(worker_id: int) -> None:
    info = get_worker_info()
    if info is not None:
        info.dataset.transform.set_random_seed(info.seed % 2**32)


class PlainNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = timm.create_model(BACKBONE, pretrained=False, num_classes=0)
        self.neck = nn.Sequential(
            nn.Linear(self.backbone.num_features, EMBEDDING_SIZE), nn.BatchNorm1d(EMBEDDING_SIZE)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(x))


def map_at_k(labels: np.ndarray, neighbours: np.ndarray, k: int) -> float:
    """mAP@K over queries with at least one other image of their label."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_relevant = counts[inverse] - 1
    rel = (labels[neighbours[:, :k]] == labels[:, None]).astype(np.float64)
    precision = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    ap = (precision * rel).sum(axis=1) / np.maximum(np.minimum(n_relevant, k), 1)
    return float(ap[n_relevant > 0].mean())


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, labels: np.ndarray, k: int) -> float:
    model.eval()
    embeddings = torch.cat([F.normalize(model(x.float() / 255.0), dim=1) for x, _ in loader])
    vectors = embeddings.numpy()
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, found = index.search(vectors, k + 1)
    is_self = found == np.arange(len(found))[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not in the top k+1: drop the last
    neighbours = found[~is_self].reshape(len(found), k)
    return map_at_k(labels, neighbours, k)


def run_plain(data: Path, validation_names: set[str], epochs: int) -> Timing:
    """The same work written by hand; writes nothing."""
    started = time.perf_counter()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    frame = pd.read_csv(data / "train.csv")
    is_validation = frame["image"].isin(validation_names).to_numpy()
    train, validation = frame[~is_validation], frame[is_validation]
    classes = sorted(train["label"].unique())
    class_id = {label: i for i, label in enumerate(classes)}

    def dataset(rows: pd.DataFrame, transform: A.Compose) -> PngDataset:
        paths = [str(data / "images" / name) for name in rows["image"]]
        return PngDataset(paths, rows["label"].map(class_id).to_numpy(), transform)

    train_transform = A.Compose(
        [A.Resize(IMAGE_SIZE, IMAGE_SIZE), A.HorizontalFlip(p=0.5)], seed=SEED
    )
    train_loader = DataLoader(
        dataset(train, train_transform),
        batch_size=BATCH_SIZE,
        shuffle=True,
        drop_last=True,
        num_workers=WORKERS,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(SEED),
    )
    validation_loader = DataLoader(
        dataset(validation, A.Compose([A.Resize(IMAGE_SIZE, IMAGE_SIZE)])),
        batch_size=BATCH_SIZE,
        num_workers=WORKERS,
    )
    validation_labels = validation["label"].to_numpy()

    model = PlainNet()
    loss_fn = losses.ArcFaceLoss(
        num_classes=len(classes),
        embedding_size=EMBEDDING_SIZE,
        margin=math.degrees(MARGIN_RADIANS),
        scale=SCALE,
    )
    optimizer = torch.optim.AdamW(
        [{"params": model.parameters()}, {"params": loss_fn.parameters()}],
        lr=LEARNING_RATE,
        weight_decay=WEIGHT_DECAY,
    )
    total_steps = epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    )
    score = float("nan")
    for _ in range(epochs):
        model.train()
        for images, labels in train_loader:
            loss = loss_fn(model(images.float() / 255.0), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        score = evaluate(model, validation_loader, validation_labels, TOP_K)
    return Timing(time.perf_counter() - started, score)


# --- memory of lookalike's top-K search ------------------------------------------------------


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def memory_probe(n: int, dim: int = 128, k: int = TOP_K) -> dict[str, float]:
    """Peak RSS growth of top_k_neighbors on n random unit vectors (run in a fresh process)."""
    from lookalike.retrieval import top_k_neighbors

    rng = np.random.default_rng(SEED)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 4096):  # in chunks, so making the input sets no high peak
        block = rng.standard_normal((min(4096, n - start), dim), dtype=np.float32)
        vectors[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    top_k_neighbors(vectors[:64], k)  # load faiss's kernels before measuring
    # Reset the peak RSS to the current RSS; where that fails, the growth is a lower bound.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = _peak_rss_kib()
    started = time.perf_counter()
    top_k_neighbors(vectors, k)
    seconds = time.perf_counter() - started
    return {
        "n": n,
        "peak_growth_mib": (_peak_rss_kib() - before) / 1024,
        "seconds": seconds,
        "input_mib": vectors.nbytes / 2**20,
        "n_by_n_mib": n * n * 4 / 2**20,
    }


def measure_memory(sizes: list[int]) -> list[dict[str, float]]:
    results = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-probe", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


# --- where the time goes --------------------------------------------------------------------

PHASES: defaultdict[str, float] = defaultdict(float)
PHASE_ORDER: list[str] = []  # the order of `instrument`'s targets, for the table
REST = "training steps and the rest"
ONCE_PER_RUN = (  # phases that run once per run here, whatever the number of epochs
    "prepare: check settings, model and data",
    "build model",
    "write checkpoint.safetensors",
    "write training_state.pt",
    "write validation predictions + embeddings",
)


def _timed(name: str, function: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(function)
    def wrapper(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            PHASES[name] += time.perf_counter() - started

    return wrapper


def instrument() -> list[str]:
    """Time the phases of both runs by wrapping the functions they look up by name at call time
    (module attributes are replaced in this process only; no source is changed). Names starting
    with two spaces are parts of the phase above them. Returns the names that were not found."""
    import lookalike.data.inputs as inputs
    import lookalike.experiments.evaluate as evaluation
    import lookalike.experiments.run as run
    from lookalike.train.charts import Charts

    this = sys.modules[__name__]
    targets: list[tuple[object, str, str]] = [
        (this, "prepare", "prepare: check settings, model and data"),
        (run, "check_model", "  of which model check (meta device)"),
        (inputs, "check_image_files", "  of which decoding every image"),
        (run, "embedding_model", "build model"),
        (evaluation.Evaluator, "embed", "evaluate: embeddings"),
        (evaluation, "retrieve", "evaluate: top-K + mAP"),
        (run, "save_weights", "write checkpoint.safetensors"),
        (run, "save_training_state", "write training_state.pt"),
        (run, "_write_results", "write validation predictions + embeddings"),
        (Charts, "save", "write charts.json"),
        (PlainNet, "__init__", "build model"),
        (this, "evaluate", "evaluate: embeddings + top-K + mAP"),
    ]
    missing = []
    PHASE_ORDER[:] = [*dict.fromkeys(name for _, _, name in targets), REST]
    for owner, attribute, name in targets:
        if hasattr(owner, attribute):
            setattr(owner, attribute, _timed(name, getattr(owner, attribute)))
        else:
            missing.append(f"{getattr(owner, '__name__', owner)}.{attribute}")
    return missing


def phase_table(results: dict[str, list[Timing]]) -> None:
    """Median seconds per phase of each contender, and the once-per-run work lookalike adds."""
    once: dict[str, float] = {}
    for name, runs in results.items():
        print(f"  {name}:")
        once[name] = 0.0
        for phase in [p for p in PHASE_ORDER if p in runs[0].phases]:
            value = statistics.median(r.phases.get(phase, 0.0) for r in runs)
            print(f"    {phase:<44} {value:6.3f} s")
            if phase in ONCE_PER_RUN:
                once[name] += value
    if "lookalike" in once and "plain" in once:
        extra = once["lookalike"] - once["plain"]
        share = extra / statistics.median(r.seconds for r in results["lookalike"])
        print(
            f"  Once-per-run work lookalike does beyond the plain loop (checks, model build, "
            f"checkpoint and result files): {extra:.3f} s = {share:.0%} of its run time"
        )


# --- report ----------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), timm {timm.__version__}, "
        f"faiss {faiss.__version__}, albumentations {A.__version__}"
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_rounds(
    contenders: dict[str, Callable[[int], Timing]], rounds: int, budget: float
) -> dict[str, list[Timing]]:
    """Run the contenders alternately, one warm-up each first (not counted); after 3 rounds,
    start no new round once `budget` seconds have passed."""
    results: dict[str, list[Timing]] = {name: [] for name in contenders}
    started = time.perf_counter()

    def measured(run: Callable[[int], Timing], i: int) -> Timing:
        PHASES.clear()
        cpu, busy = cpu_time(), machine_busy_seconds()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        result = run(i)
        result.cpu_seconds = cpu_time() - cpu
        result.page_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        result.others_cpu_seconds = max(0.0, machine_busy_seconds() - busy - result.cpu_seconds)
        if PHASES:
            result.phases = dict(PHASES)
            own = sum(v for k, v in PHASES.items() if not k.startswith(" "))
            result.phases[REST] = result.seconds - own
        return result

    for name, run in contenders.items():
        warm = measured(run, -1)
        print(
            f"  warm-up   {name:>9}: {warm.seconds:5.1f} s wall, {warm.cpu_seconds:5.1f} s CPU, "
            f"mAP {warm.map_at_k:.3f}, {warm.page_faults:>7,} page faults; other processes "
            f"{warm.others_cpu_seconds:4.1f} CPU s",
            flush=True,
        )
    for i in range(rounds):
        if i >= 3 and time.perf_counter() - started > budget:
            print(f"  time budget of {budget:.0f} s spent: stopping after {i} rounds")
            break
        for name, run in contenders.items():
            result = measured(run, i)
            results[name].append(result)
            print(
                f"  round {i + 1:>2} {name:>9}: {result.seconds:5.1f} s wall, "
                f"{result.cpu_seconds:5.1f} s CPU, mAP {result.map_at_k:.3f}, "
                f"{result.page_faults:>7,} page faults; other processes "
                f"{result.others_cpu_seconds:4.1f} CPU s",
                flush=True,
            )
    return results


def quiet(result: Timing) -> bool:
    """Whether other processes used under 5 % of the machine while this run ran."""
    return result.others_cpu_seconds < 0.05 * result.seconds * (os.cpu_count() or 1)


def report(results: dict[str, list[Timing]], images: int) -> None:
    """Medians, spreads, the images/s ratio, the same ratio pair by pair, and the noise."""
    medians = {name: statistics.median(r.seconds for r in runs) for name, runs in results.items()}
    speed = {name: images / seconds for name, seconds in medians.items()}
    print()
    for name, runs in results.items():
        times = [r.seconds for r in runs]
        spread = (max(times) - min(times)) / medians[name]
        print(
            f"{name:>9}: median {medians[name]:5.2f} s = {speed[name]:5.1f} training images/s "
            f"(min {min(times):.2f} s, max {max(times):.2f} s, spread {spread:.0%}); median "
            f"{statistics.median(r.cpu_seconds for r in runs):.1f} CPU s, "
            f"{statistics.median(r.page_faults for r in runs):,.0f} page faults; "
            f"validation mAP@{TOP_K} {statistics.median(r.map_at_k for r in runs):.3f}"
        )
    ratio = speed["lookalike"] / speed["plain"]
    pairs = list(zip(results["lookalike"], results["plain"], strict=True))
    paired = [b.seconds / a.seconds for a, b in pairs]
    quiet_pairs = [b.seconds / a.seconds for a, b in pairs if quiet(a) and quiet(b)]
    verdict = "no slower than" if ratio >= 1.0 else "slower than"
    print(f"Ratio lookalike/plain (images/s): {ratio:.3f}: lookalike is {verdict} the plain loop")
    print(
        f"  pair by pair (plain time / lookalike time): {', '.join(f'{r:.2f}' for r in paired)}"
        f"; median {statistics.median(paired):.3f}"
    )
    others = [r.others_cpu_seconds for runs in results.values() for r in runs]
    print(
        f"  noise: other processes used {statistics.median(others):.1f} CPU s per run (median, "
        f"max {max(others):.1f}); {len(quiet_pairs)} of {len(pairs)} pairs quiet (< 5 % of the "
        "machine)"
        + (f", their median ratio {statistics.median(quiet_pairs):.3f}" if quiet_pairs else "")
    )
    if results["lookalike"][0].phases:
        print()
        print("Where the time goes (median seconds per run):")
        phase_table(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per contender")
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds after which no new round starts (3 rounds always run)",
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-phases", action="store_true", help="skip the per-phase timers")
    parser.add_argument("--no-memory", action="store_true", help="skip the top-K memory probe")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[20_000, 80_000])
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe)))
        return 0

    print(f"Machine: {machine()}")
    print(
        f"Settings: {BACKBONE}, {IMAGE_SIZE}×{IMAGE_SIZE}, batch {BATCH_SIZE}, {args.epochs} "
        f"epochs, {WORKERS} workers, float32 on CPU, seed {SEED}, ArcFace margin "
        f"{MARGIN_RADIANS} rad ({math.degrees(MARGIN_RADIANS):.2f}°) scale {SCALE}, AdamW lr "
        f"{LEARNING_RATE} wd {WEIGHT_DECAY}, cosine, mAP@{TOP_K} after every epoch"
    )
    print(f"Load average before: {load_average()}")
    if not args.no_phases:
        missing = instrument()
        if missing:
            print(f"Phase timers not set (not found): {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="lookalike-bench-") as tmp:
        root = Path(tmp)
        data, output = root / "data", root / "output"
        build_digits_dataset(data, size=IMAGE_SIZE)
        validation = validation_images(data, args.epochs)
        n_train = len(pd.read_csv(data / "train.csv")) - len(validation)
        print(f"Data: {n_train} training and {len(validation)} validation images (digits 0-6)")

        def lookalike_run(i: int) -> Timing:
            return run_lookalike(data, output, f"round_{i}", args.epochs)

        def plain_run(i: int) -> Timing:
            return run_plain(data, validation, args.epochs)

        contenders = {"lookalike": lookalike_run, "plain": plain_run}
        results = timed_rounds(contenders, args.rounds, args.budget)
        predicted = pd.read_csv(output / "round_0" / "validation_predictions.csv")
        if set(predicted["image"]) != validation:
            raise RuntimeError("lookalike validated on other rows than the plain loop")

    report(results, n_train * args.epochs)
    print(f"Load average after: {load_average()}")

    if not args.no_memory:
        print()
        print("Peak memory growth of lookalike.retrieval.top_k_neighbors (k=20, 128-d, float32):")
        probes = measure_memory(args.memory_sizes)
        for m in probes:
            print(
                f"  N={int(m['n']):>6}: +{m['peak_growth_mib']:6.1f} MiB peak RSS in "
                f"{m['seconds']:.1f} s (embeddings {m['input_mib']:.1f} MiB; an N×N float32 "
                f"matrix would be {m['n_by_n_mib']:,.0f} MiB)"
            )
        if len(probes) >= 2:
            first, last = probes[0], probes[-1]
            per_row = (last["peak_growth_mib"] - first["peak_growth_mib"]) * 2**20
            per_row /= last["n"] - first["n"]
            print(
                f"  Each further embedding adds {per_row:.0f} bytes (a 128-d float32 row is 512 "
                f"bytes, its top-{TOP_K} indices and similarities {TOP_K * 12}): linear, no N×N."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
