"""SCALE-Sim v2 files read into accelsim: configs (accelsim.spec.scalesim), topologies (workload)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.spec.hardware import hardware_from_dict, load_hardware
from accelsim.spec.scalesim import read_scalesim_config
from accelsim.workload.scalesim_topology import read_scalesim_topology, scalesim_output_size

DATA = Path(__file__).parent / "data"
INPUTS = DATA / "scalesim_inputs"
OURS = DATA / "scalesim_golden"  # configs and topologies written for the goldens
CONFIGS = sorted((INPUTS / "configs").glob("*.cfg")) + sorted((OURS / "configs").glob("*.cfg"))
TOPOLOGIES = sorted((INPUTS / "topologies").glob("*.csv")) + sorted((OURS / "topologies").glob("*.csv"))

LAYER_COUNTS = {"NCF": 12, "Resnet18": 21, "Resnet50": 54, "alexnet": 5, "alexnet_part": 1, "gpt2": 6,
                "mlperf_test": 1, "mobilenet": 27, "test": 1, "test_mnk_input": 1, "yolo_tiny": 9,
                "depthwise_dp": 4, "stride_hw": 3}

CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,"
               " Strides,\n")
SCALE_CFG = """[general]
run_name = demo

[architecture_presets]
ArrayHeight:    8
ArrayWidth:     16
IfmapSramSzkB:    32
FilterSramSzkB:   16
OfmapSramSzkB:    8
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : ws
Bandwidth : 4
MemoryBanks: 1

[run_presets]
InterfaceBandwidth: CALC
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def problems_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return list(exc.value.problems)


# --- configs -----------------------------------------------------------------------------------

def test_inputs_are_all_there():
    assert {p.name for p in (INPUTS / "configs").glob("*.cfg")} == {"scale.cfg", "google.cfg", "eyeriss.cfg"}
    assert {p.stem for p in TOPOLOGIES} == set(LAYER_COUNTS)
    assert (INPUTS / "LICENSE.scale-sim").is_file()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    raw = read_scalesim_config(path)
    hw = hardware_from_dict(raw, str(path))
    assert hw.timing == "scalesim"
    assert hw.clock_mhz == 1000.0
    assert [m.name for m in hw.memories] == ["ifmap_sram", "filter_sram", "ofmap_sram"]
    assert [m.holds for m in hw.memories] == [("inputs",), ("weights",), ("outputs",)]
    assert all(m.double_buffered and not m.per_pe for m in hw.memories)


def test_scale_cfg_values():
    hw = load_hardware(str(INPUTS / "configs" / "scale.cfg"))  # load_hardware sends .cfg to the importer
    assert hw.name == "scale_example_run_32x32_os"
    assert (hw.pe_array.rows, hw.pe_array.cols, hw.pe_array.dataflow) == (32, 32, "os")
    assert hw.pe_array.precision_bits == 8
    # SCALE-Sim multiplies its "kB" by 1024
    assert [m.size_bytes for m in hw.memories] == [64 * 1024] * 3
    assert hw.dram.bandwidth_bytes_per_cycle == 10.0


def test_google_and_eyeriss_values():
    g = hardware_from_dict(read_scalesim_config(INPUTS / "configs" / "google.cfg"), "google.cfg")
    assert (g.pe_array.rows, g.pe_array.cols, g.pe_array.dataflow) == (256, 256, "ws")
    assert [m.size_bytes for m in g.memories] == [6144 * 1024, 6144 * 1024, 2048 * 1024]
    e = hardware_from_dict(read_scalesim_config(INPUTS / "configs" / "eyeriss.cfg"), "eyeriss.cfg")
    assert (e.pe_array.rows, e.pe_array.cols, e.pe_array.dataflow) == (12, 14, "ws")
    assert [m.size_bytes for m in e.memories] == [36 * 1024] * 3


def test_config_raw_mapping(tmp_path):
    raw = read_scalesim_config(write(tmp_path, "demo.cfg", SCALE_CFG))
    assert raw["version"] == 1 and raw["name"] == "demo"
    assert raw["pe_array"] == {"rows": 8, "cols": 16, "dataflow": "ws", "precision": 8}
    assert [m["size"] for m in raw["memories"]] == ["32 KiB", "16 KiB", "8 KiB"]
    assert raw["dram"] == {"bandwidth": "4 B/cycle"}


def test_config_keys_case_insensitive_and_equals_separator(tmp_path):
    text = SCALE_CFG.replace("ArrayHeight:    8", "arrayheight = 8").replace("Dataflow : ws", "DATAFLOW = OS")
    raw = read_scalesim_config(write(tmp_path, "c.cfg", text))
    assert raw["pe_array"]["rows"] == 8 and raw["pe_array"]["dataflow"] == "os"


def test_bandwidth_list_uses_first_element(tmp_path):
    text = SCALE_CFG.replace("Bandwidth : 4", "Bandwidth : 20,10,5")
    raw = read_scalesim_config(write(tmp_path, "c.cfg", text))
    assert raw["dram"]["bandwidth"] == "20 B/cycle"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        read_scalesim_config(tmp_path / "nope.cfg")
    assert "nope.cfg" in str(exc.value) and "not found" in str(exc.value)


def test_misspelled_key_says_did_you_mean(tmp_path):
    with pytest.raises(ConfigError) as exc:
        read_scalesim_config(write(tmp_path, "c.cfg", SCALE_CFG.replace("ArrayHeight:", "ArrayHieght:")))
    probs = problems_of(exc)
    assert "[architecture_presets] ArrayHieght: unknown key (did you mean 'ArrayHeight'?)" in probs
    assert "[architecture_presets] ArrayHeight: required key is missing" in probs
    assert "c.cfg" in str(exc.value)


def test_bad_dataflow(tmp_path):
    with pytest.raises(ConfigError) as exc:
        read_scalesim_config(write(tmp_path, "c.cfg", SCALE_CFG.replace("Dataflow : ws", "Dataflow : wss")))
    (prob,) = problems_of(exc)
    assert "Dataflow" in prob and "'wss'" in prob and "is, os, ws" in prob and "did you mean 'ws'" in prob


def test_all_config_problems_at_once(tmp_path):
    text = (SCALE_CFG.replace("ArrayWidth:     16", "ArrayWidth: sixteen")
            .replace("Dataflow : ws", "Dataflow : rs")
            .replace("[run_presets]\nInterfaceBandwidth: CALC\n", "")
            .replace("OfmapSramSzkB:    8", "OfmapSramSzkB: 0"))
    with pytest.raises(ConfigError) as exc:
        read_scalesim_config(write(tmp_path, "c.cfg", text))
    probs = problems_of(exc)
    assert len(probs) == 4, probs
    assert "[run_presets]: required section is missing" in probs
    assert any("ArrayWidth: 'sixteen' is not a positive whole number" in p for p in probs)
    assert any("OfmapSramSzkB: '0'" in p for p in probs)
    assert any("Dataflow: 'rs'" in p for p in probs)


def test_misspelled_section(tmp_path):
    with pytest.raises(ConfigError) as exc:
        read_scalesim_config(write(tmp_path, "c.cfg", SCALE_CFG.replace("[general]", "[generl]")))
    probs = problems_of(exc)
    assert "[generl]: unknown section (did you mean 'general'?)" in probs
    assert "[general]: required section is missing" in probs


def test_user_mode_is_refused_not_run_stall_free(tmp_path):
    """SCALE-Sim's USER mode stalls on DRAM (50,423 cycles where CALC gives 10,175 on one layer):
    running it stall-free would be silently wrong, so the file is refused with the fix."""
    with pytest.raises(ConfigError, match=r"InterfaceBandwidth: USER \(SCALE-Sim's DRAM stall model\)"):
        read_scalesim_config(write(tmp_path, "c.cfg", SCALE_CFG.replace("CALC", "USER")))
    read_scalesim_config(write(tmp_path, "d.cfg", SCALE_CFG.replace("Bandwidth : 4\n", "")))  # CALC: optional


def test_bad_interface_bandwidth_and_duplicate_and_garbage(tmp_path):
    with pytest.raises(ConfigError, match="InterfaceBandwidth: 'FAST' is not CALC or USER"):
        read_scalesim_config(write(tmp_path, "a.cfg", SCALE_CFG.replace("CALC", "FAST")))
    with pytest.raises(ConfigError, match=r"given twice"):
        read_scalesim_config(write(tmp_path, "b.cfg", SCALE_CFG.replace("MemoryBanks: 1", "dataflow: os")))
    with pytest.raises(ConfigError, match=r"line 1: .* before any \[section\]"):
        read_scalesim_config(write(tmp_path, "c.cfg", "ArrayHeight: 8\n" + SCALE_CFG))


# --- topologies --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", TOPOLOGIES, ids=lambda p: p.name)
def test_every_shipped_topology_loads(path):
    w = read_scalesim_topology(path)
    assert w.name == path.stem and w.source == str(path) and w.batch == 1
    assert len(w.layers) == LAYER_COUNTS[path.stem]
    for layer in w.layers:
        assert layer.weight_mask is not None and layer.weight_mask.all()
        assert layer.weight_count == layer.groups * layer.n * layer.k
        assert layer.gemm_weight_mask().shape == (layer.groups, layer.k, layer.n)
        if layer.conv is not None:
            c = layer.conv
            assert layer.m == c.out_h * c.out_w and c.batch == 1 and c.pad_h == c.pad_w == 0


def test_hand_worked_conv_row():
    (layer,) = read_scalesim_topology(INPUTS / "topologies" / "test.csv").layers
    # Inc5b_3x3: 7x7 input, 3x3 filter, 192 channels, 384 filters, stride 1
    assert (layer.name, layer.kind) == ("Inc5b_3x3", "conv")
    assert (layer.conv.out_h, layer.conv.out_w) == (5, 5)
    assert (layer.m, layer.n, layer.k, layer.groups) == (25, 384, 1728, 1)
    assert layer.weight_mask.shape == (384, 192, 3, 3) and layer.weight_mask.dtype == bool
    assert layer.macs == 25 * 384 * 1728


def test_output_size_is_scalesims_ceil_not_pytorchs_floor():
    # AlexNet Conv1: 224 input, 11x11 filter, stride 4: SCALE-Sim 55, PyTorch (no padding) 54
    conv1 = read_scalesim_topology(INPUTS / "topologies" / "alexnet.csv").layers[0]
    assert (conv1.conv.out_h, conv1.m, conv1.k) == (55, 55 * 55, 11 * 11 * 3)
    assert (224 - 11) // 4 + 1 == 54  # PyTorch's floor rule without padding
    assert scalesim_output_size(224, 11, 4) == 55
    for size, kernel, stride in [(7, 3, 1), (56, 3, 2), (224, 7, 2), (13, 3, 1), (23, 3, 3), (5, 5, 7)]:
        assert scalesim_output_size(size, kernel, stride) == -(-(size - kernel) // stride) + 1


def test_resnet50_extra_columns_agree_and_are_ignored():
    # Resnet50.csv annotates Conv1 with Eh, Ew = 110, 110: SCALE-Sim's own ceil rule (PyTorch: 109)
    w = read_scalesim_topology(INPUTS / "topologies" / "Resnet50.csv")
    conv1 = w.layers[0]
    assert (conv1.name, conv1.conv.out_h, conv1.conv.out_w, conv1.m) == ("Conv1", 110, 110, 12100)
    assert (conv1.conv.stride_h, conv1.conv.stride_w) == (2, 2)
    assert w.layers[-1].name == "FC6" and (w.layers[-1].n, w.layers[-1].k) == (1000, 2048)


def test_gemm_form():
    (layer,) = read_scalesim_topology(INPUTS / "topologies" / "test_mnk_input.csv").layers
    assert (layer.name, layer.kind, layer.m, layer.n, layer.k) == ("Test 1", "linear", 128, 64, 256)
    assert layer.conv is None and layer.weight_mask.shape == (64, 256)
    ncf = read_scalesim_topology(INPUTS / "topologies" / "NCF.csv")  # CRLF line ends, header "Layer,M,N,K,"
    assert [x.name for x in ncf.layers] == [str(i) for i in range(1, 13)]
    assert (ncf.layers[-1].m, ncf.layers[-1].n, ncf.layers[-1].k) == (2048, 128, 1)


def test_separate_horizontal_stride():
    rect, edge, rect2 = read_scalesim_topology(OURS / "topologies" / "stride_hw.csv").layers
    assert (rect.conv.stride_h, rect.conv.stride_w) == (1, 2)
    assert (rect.conv.out_h, rect.conv.out_w) == (18, 14)  # (20-3)/1+1, ceil((30-5)/2)+1
    assert (edge.conv.stride_h, edge.conv.stride_w, edge.conv.out_h) == (3, 3, 8)  # ceil(20/3)+1
    assert (rect2.conv.out_h, rect2.conv.out_w, rect2.m) == (5, 11, 55)


def test_depthwise_dp_rows():
    w = read_scalesim_topology(OURS / "topologies" / "depthwise_dp.csv")
    pw_in, dp, dp2, pw_out = w.layers
    assert (pw_in.kind, dp.kind, dp2.kind, pw_out.kind) == ("conv", "depthwise", "depthwise", "conv")
    # SCALE-Sim runs DP_3x3 as 6 layers of one channel each: M = 14*14, N = 1, K = 9
    assert (dp.m, dp.n, dp.k, dp.groups) == (196, 1, 9, 6)
    assert dp.weight_mask.shape == (6, 1, 3, 3) and dp.conv.groups == 6 and dp.conv.out_channels == 6
    # Num Filter is kept per channel (a channel multiplier): 3 channels x 2 filters
    assert (dp2.m, dp2.n, dp2.k, dp2.groups) == (25, 2, 9, 3)
    assert dp2.weight_mask.shape == (6, 1, 3, 3) and dp2.conv.out_channels == 6
    assert dp2.gemm_weight_mask().shape == (3, 9, 2)


def test_dp_is_case_sensitive_and_filter_one_is_not_depthwise(tmp_path):
    w = read_scalesim_topology(write(tmp_path, "t.csv", CONV_HEADER + "conv_dp, 8, 8, 3, 3, 4, 1, 1,\n"))
    assert w.layers[0].kind == "conv" and w.layers[0].k == 36
    conv2 = read_scalesim_topology(INPUTS / "topologies" / "mobilenet.csv").layers[1]
    assert (conv2.kind, conv2.n, conv2.k) == ("conv", 1, 288)  # mobilenet.csv has no DP names


def test_trailing_comma_blank_lines_and_spaces_are_optional(tmp_path):
    with_commas = CONV_HEADER + "L1,24,24,3,3,3,8,1,\nL2,22,22,3,3,8,8,2,\n"
    without = CONV_HEADER + "\n  L1 , 24 , 24 , 3 , 3 , 3 , 8 , 1\n\nL2,22,22,3,3,8,8,2\n\n\n"
    a = read_scalesim_topology(write(tmp_path, "a.csv", with_commas))
    b = read_scalesim_topology(write(tmp_path, "b.csv", without), name="bee")
    assert b.name == "bee"
    assert [(x.name, x.m, x.n, x.k) for x in a.layers] == [(x.name, x.m, x.n, x.k) for x in b.layers]
    assert [(x.m, x.n, x.k) for x in a.layers] == [(22 * 22, 8, 27), (11 * 11, 8, 72)]  # 22/3/2: 11
    assert a.fingerprint.startswith("scalesim-csv:") and a.fingerprint != b.fingerprint


def test_malformed_row_names_line_and_column(tmp_path):
    text = CONV_HEADER + "L1,24,24,3,3,3,8,1,\nL2,22,x22,3,3,8,8,2,\n"
    with pytest.raises(ConfigError) as exc:
        read_scalesim_topology(write(tmp_path, "t.csv", text))
    assert problems_of(exc) == ["line 3, column 3 (IFMAP Width): 'x22' is not a whole number"]
    assert str(exc.value).startswith(str(tmp_path / "t.csv"))


def test_all_row_problems_at_once(tmp_path):
    text = CONV_HEADER + "L1,24,24,3,3,3,8,\n,5,5,1,1,1,1,1,\nL3,4,4,5,3,1,1,1,\nL4,8,8,3,3,0,8,1,0,\n"
    with pytest.raises(ConfigError) as exc:
        read_scalesim_topology(write(tmp_path, "t.csv", text))
    assert problems_of(exc) == [
        "line 2, column 8 (Strides): value is missing",
        "line 3, column 1 (Layer name): the layer name is empty",
        "line 4, column 4 (Filter Height): 5 is larger than the IFMAP height 4",
        "line 5, column 6 (Channels): '0' must be larger than 0",
        "line 5, column 9 (Stride Width): '0' is not a whole number larger than 0",
    ]


def test_gemm_row_problems(tmp_path):
    with pytest.raises(ConfigError) as exc:
        read_scalesim_topology(write(tmp_path, "g.csv", "Layer, M, N, K,\nA, 4, 4,\nB, 4, 4, 4.5,\n"))
    assert problems_of(exc) == ["line 2, column 4 (K): value is missing",
                                "line 3, column 4 (K): '4.5' is not a whole number"]


def test_empty_and_missing_topology(tmp_path):
    with pytest.raises(ConfigError, match="no layers"):
        read_scalesim_topology(write(tmp_path, "h.csv", CONV_HEADER + "\n,,,,,,,,\n"))
    with pytest.raises(ConfigError, match="empty"):
        read_scalesim_topology(write(tmp_path, "e.csv", ""))
    with pytest.raises(ConfigError, match="file not found"):
        read_scalesim_topology(tmp_path / "missing.csv")


def test_macs_match_scalesim_expansion():
    # SCALE-Sim's MAC count per layer is E_h*E_w*F_h*F_w*C*N; a DP row is C of those with C = 1.
    w = read_scalesim_topology(OURS / "topologies" / "depthwise_dp.csv")
    expected = 16 * 16 * 8 * 6 + 6 * (14 * 14 * 9 * 1) + 3 * (5 * 5 * 9 * 2) + 14 * 14 * 6 * 40
    assert w.macs == expected
    assert isinstance(w.layers[0].weight_mask, np.ndarray)
