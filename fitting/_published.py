"""The published batch-1 latency table: its rows, the shipped profile each belongs to, the zoo network each names.

``../shared/external/published_board_latency_train.csv`` (see its README) lists published latencies of
real boards at their deployed input sizes, with board, runtime, precision, network, input and source.
This module reads it into :class:`PublishedRow` values: which shipped profile (board and runtime) a row
is evidence for, and which zoo network stands for the published one (:data:`NETWORKS` says how each
differs). A row naming a board or a network the table does not cover is refused, never guessed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from .._csvfile import dict_rows, open_csv
from .._errors import InputError
from .._messages import show
from .._numbers import parse_number

__all__ = ["PublishedRow", "NETWORKS", "read_published_table", "read_block_table", "profile_for"]

#: Published network name -> (zoo reference, how the zoo network relates to the published one).
NETWORKS: dict[str, tuple[str, str]] = {
    "Inception v1": ("zoo:googlenet", "torchvision GoogLeNet: batch norm and 3x3 convolutions in the '5x5' branch, as "
                                      "in TF-slim's inception_v1; the Edge TPU page's model is TF-slim's"),
    "inception_v1": ("zoo:googlenet", "torchvision GoogLeNet for TF-slim inception_v1 (same layer structure)"),
    "Inception v4": ("zoo:inception_v4", "same architecture"),
    "inception_v4": ("zoo:inception_v4", "same architecture"),
    "inception_v3": ("zoo:inception_v3", "without the auxiliary classifier (not run at inference)"),
    "MobileNet v1": ("zoo:mobilenet_v1", "same architecture"),
    "mobilenet_v1_0p25_128": ("zoo:mobilenet_v1@0.25", "width 0.25 at 128x128; torchvision-style channel "
                                                       "rounding (multiples of 8) where TF-slim rounds to 8 too"),
    "VGG19": ("zoo:vgg19", "same architecture"),
    "torchvision.models.squeezenet1_1": ("zoo:squeezenet1_1", "same architecture"),
    "torchvision.models.resnet18": ("zoo:resnet18", "same architecture"),
    "torchvision.models.resnet34": ("zoo:resnet34", "same architecture"),
    "torchvision.models.resnet50": ("zoo:resnet50", "same architecture"),
    "torchvision.models.vgg11": ("zoo:vgg11", "same architecture"),
    "torchvision.models.vgg16": ("zoo:vgg16", "same architecture"),
    "resnet_v1_50": ("zoo:resnet50", "TF-slim resnet_v1_50 strides in the first 1x1 of a block, torchvision's in "
                                     "the 3x3 (v1.5): same layers and parameters, 4.1 vs 3.9 GMACs"),
    "resnet50 (MLPerf ResNet-50 v1.5)": ("zoo:resnet50", "ResNet-50 v1.5 as torchvision builds it"),
    "mobilenet-v3-small_224_0.75": ("zoo:mobilenet_v3_small@0.75", "torchvision channel rounding of the 0.75 width"),
    "mobilenet-v3-small_224_1.0": ("zoo:mobilenet_v3_small", "same architecture"),
    "mobilenet-v3-large_224_0.75": ("zoo:mobilenet_v3_large@0.75", "torchvision channel rounding of the 0.75 width"),
    "mobilenet-v3-large_224_1.0": ("zoo:mobilenet_v3_large", "same architecture"),
    "mobilenet-v2-1.0-160": ("zoo:mobilenet_v2", "same architecture at 160x160"),
    "mobilenet-v2-1.0-224": ("zoo:mobilenet_v2", "same architecture"),
    "mobilenet-v2-1.4-224": ("zoo:mobilenet_v2@1.4", "torchvision channel rounding of the 1.4 width"),
    "mobilenet-v1-1.0-224": ("zoo:mobilenet_v1", "same architecture"),
    "ncnn shufflenet_v2": ("zoo:shufflenet_v2_x1_0", "ShuffleNetV2 1.0x; ncnn runs the channel shuffle as one "
                                                     "ShuffleChannel layer where the zoo graph has Reshape-Transpose-Reshape"),
    "ncnn mobilenet_v3": ("zoo:mobilenet_v3_large", "MobileNetV3-Large (1280-wide head) per ncnn's param file"),
    "ncnn mobilenet_v2": ("zoo:mobilenet_v2", "same architecture"),
    "ncnn alexnet": ("zoo:alexnet_caffe", "BVLC Caffe AlexNet (grouped convolutions, LRN) at 227x227"),
    "ncnn resnet18": ("zoo:resnet18", "same architecture"),
    "ncnn vgg16": ("zoo:vgg16", "same architecture"),
}

_BOARDS = (  # (board text starts with, runtime text contains) -> profile
    ("Coral Dev Board", "", "coral-edgetpu"),
    ("Coral USB Accelerator", "", "coral-usb"),
    ("Jetson Nano", "TensorRT", "jetson-nano"),
    ("Jetson TX2", "TensorRT", "jetson-tx2"),
    ("Raspberry Pi 4", "ncnn", "raspberry-pi-4-ncnn"),
    ("Raspberry Pi 3 B+", "ncnn", "raspberry-pi-3bplus-ncnn"),
    ("Raspberry Pi 4", "TFLite", "raspberry-pi-4"),
    ("Raspberry Pi 3 B", "TFLite", "raspberry-pi-3"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedRow:
    """One published latency and what edgeperf models it with."""

    profile: str
    board: str
    runtime: str
    precision: str
    network: str
    model: str
    input_hw: int
    latency_ms: float
    source: str
    note: str
    line: int = 0
    block: bool = False   # one block of a block table (its zoo reference fixes its input), not a whole network

    @property
    def input_shapes(self) -> dict | None:
        """``{"input": (1, 3, H, W)}`` for loading the zoo network at the published size (None for a block)."""
        return None if self.block else {"input": (1, 3, self.input_hw, self.input_hw)}


def profile_for(board: str, runtime: str) -> str:
    """The shipped profile a (board, runtime) pair of the table belongs to.

    Raises
    ------
    InputError
        For a board or runtime the table's profiles do not cover.

    >>> profile_for("Raspberry Pi 4 B", "ncnn (benchncnn, fp32, Vulkan off)")
    'raspberry-pi-4-ncnn'
    """
    for prefix, runtime_part, profile in _BOARDS:
        if board.startswith(prefix) and runtime_part in runtime:
            return profile
    raise InputError(f"no board profile for board {show(board)} with runtime {show(runtime)}; covered: "
                     + ", ".join(f"{p} ({r or 'any runtime'})" for p, r, _ in _BOARDS))


def read_published_table(path) -> tuple[PublishedRow, ...]:
    """Read the published latency table (columns board, runtime, precision, network, input, batch, latency_ms, ...).

    Raises
    ------
    InputError
        For a missing file or column, a batch other than 1, an unknown network or board, or a latency that
        is not a positive number.
    """
    needed = ("board", "runtime", "precision", "network", "input", "batch", "latency_ms")
    rows = []
    with open_csv(path, "the published latency table",
                  hint="the published latency table is ../shared/external/published_board_latency_train.csv") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}; needs {list(needed)}")
        for line, row in dict_rows(reader, path):
            where = f"{path}:{line}"
            if row["network"] not in NETWORKS:
                raise InputError(f"{where}: network {show(row['network'])} has no zoo equivalent; known: "
                                 f"{', '.join(sorted(NETWORKS))}")
            if row["batch"].strip() != "1":
                raise InputError(f"{where}: batch {show(row['batch'])}; board profiles are fitted at batch 1")
            latency = parse_number(row["latency_ms"], f"{where}: latency_ms", positive=True, high=1e7)
            size = parse_number(row["input"], f"{where}: input", integer=True, low=8, high=4096)
            model, note = NETWORKS[row["network"]]
            rows.append(PublishedRow(
                profile=profile_for(row["board"], row["runtime"]), board=row["board"], runtime=row["runtime"],
                precision=row["precision"], network=row["network"], model=model, input_hw=size, latency_ms=latency,
                source=row.get("source", ""), note=note, line=line))
    if not rows:
        raise InputError(f"{path}: the table has no rows")
    return tuple(rows)


_BLOCK_SOURCE = ("HW-NAS-Bench FBNet per-block lookup table (Li et al., ICLR 2021, RICE-EIC/HW-NAS-Bench, MIT; JSON "
                 "dump from fracapuano/sim-is-more @ c8a9073b), ../shared/external/hwnasbench_fbnet_block_lut.csv")


def read_block_table(path, spec) -> tuple[PublishedRow, ...]:
    """The measured blocks of one column of HW-NAS-Bench's FBNet block table, as rows of ``spec.profile``.

    Blocks that run no operator (identity skips, measured as 0 ms on the TX2) are left out.

    Raises
    ------
    InputError
        For a missing file or column, or a latency that is not a number.
    """
    rows = []
    with open_csv(path, "the block table",
                  hint="the block table is ../shared/external/hwnasbench_fbnet_block_lut.csv") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in ("key", "block_type", "Cin", "Cout", "stride", spec.column)
                   if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}")
        for line, row in dict_rows(reader, path):
            latency = parse_number(row[spec.column], f"{path}:{line}: {spec.column}", low=0.0, high=1e7)
            identity = row["block_type"] == "Skip" and row["Cin"] == row["Cout"] and row["stride"] == "1"
            if identity or not latency > 0:
                continue
            size = parse_number(row.get("H") or "1", f"{path}:{line}: H", integer=True, positive=True, high=4096)
            rows.append(PublishedRow(
                profile=spec.profile, board=spec.base_profile, runtime=spec.runtime, precision=spec.precision,
                network=row["key"], model=f"zoo:fbnet-block:{row['key']}", input_hw=size,
                latency_ms=latency, source=f"{_BLOCK_SOURCE}, column {spec.column}", note=spec.about, line=line,
                block=True))
    if not rows:
        raise InputError(f"{path}: no measured block in column {spec.column}")
    return tuple(rows)
