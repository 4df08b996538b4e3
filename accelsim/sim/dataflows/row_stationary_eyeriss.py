"""Eyeriss v1's published AlexNet figures and the layers they were measured on: the reference the
``eyeriss_v1`` config is checked against (tests/test_row_stationary_alexnet.py,
benchmarks/bench_eyeriss.py).

Chen, Krishna, Emer, Sze, IEEE JSSC 52(1) 2017 (and ISSCC 2016): AlexNet's five CONV layers (the
original, grouped network: CONV2, 4 and 5 in two groups; CONV1 11 x 11, stride 4, on a 227 x 227
image), batch 4, 168 PEs at 200 MHz: 35 frames/s (115.3 ms for the batch), 0.0029 DRAM accesses
per MAC in 16-bit words (15.4 MB for 2,663 M MACs), 278 mW.  These two figures are the validation
targets (``../shared/reference/validation.md``: within 25 %).  Per layer, the paper's table gives
latency, DRAM traffic and the share of zeros in each layer's ifmaps (measured on the trained
network); the zeros set the layers' activation densities here (they decide zero gating and the
run-length-coded DRAM traffic), the rest is context for the per-layer comparison.  Each layer reads
the one before it (``input_from``; Eyeriss pools off-chip, in between).
"""

from __future__ import annotations

import numpy as np

from accelsim.workload.layer import ConvShape, Layer, Workload, conv_gemm

FRAMES_PER_S = 35.0
DRAM_ACCESSES_PER_MAC = 0.0029  # 16-bit words
POWER_MW = 278.0
BATCH = 4

# name: (C, M, in H=W, kernel, stride, pad, groups, out H=W)
ALEXNET_CONV = {
    "CONV1": (3, 96, 227, 11, 4, 0, 1, 55),
    "CONV2": (96, 256, 27, 5, 1, 2, 2, 27),
    "CONV3": (256, 384, 13, 3, 1, 1, 1, 13),
    "CONV4": (384, 384, 13, 3, 1, 1, 2, 13),
    "CONV5": (384, 256, 13, 3, 1, 1, 2, 13),
}
# JSSC 2017's per-layer table: latency (ms, batch 4), DRAM accesses (MB), zeros in the ifmaps (%)
PUBLISHED = {
    "CONV1": (20.9, 5.0, 0.0),
    "CONV2": (41.9, 4.0, 38.7),
    "CONV3": (23.6, 3.0, 72.5),
    "CONV4": (18.4, 2.1, 79.3),
    "CONV5": (10.5, 1.3, 77.6),
}


def alexnet_conv_layers(batch: int = BATCH) -> tuple[Layer, ...]:
    """AlexNet's CONV layers as Eyeriss ran them: dense weights, the measured ifmap zeros."""
    layers, before = [], ""
    for name, (c, m, hw, k, s, pad, g, out) in ALEXNET_CONV.items():
        shape = ConvShape(batch=batch, in_channels=c, out_channels=m, in_h=hw, in_w=hw, out_h=out,
                          out_w=out, kernel_h=k, kernel_w=k, stride_h=s, stride_w=s, pad_h=pad, pad_w=pad,
                          groups=g)
        gm, gn, gk = conv_gemm(shape)
        zeros = PUBLISHED[name][2] / 100.0
        layers.append(Layer(name=name, kind="conv", m=gm, n=gn, k=gk, groups=g,
                            weight_mask=np.ones((m, c // g, k, k), bool), activation_density=1.0 - zeros,
                            activation_density_source="Eyeriss JSSC 2017, measured zeros in the ifmaps",
                            conv=shape, input_from=(before,)))  # through pooling, off-chip
        before = name
    return tuple(layers)


def alexnet_conv_workload(batch: int = BATCH) -> Workload:
    return Workload(name=f"alexnet_conv_eyeriss_b{batch}", layers=alexnet_conv_layers(batch),
                    source="AlexNet CONV1-5 (Krizhevsky 2012) as in Eyeriss JSSC 2017", batch=batch,
                    input_shape=(batch, 3, 227, 227), fingerprint=f"alexnet_conv_eyeriss_b{batch}")
