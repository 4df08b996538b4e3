import textwrap

import pytest

from accelsim.errors import ConfigError
from accelsim.spec.config import parse_yaml_text, read_yaml, set_dotted
from accelsim.spec.hardware import (
    hardware_from_dict,
    load_hardware,
    resolve_hardware_path,
    shipped_hardware_names,
)


def _hw(text: str):
    return hardware_from_dict(parse_yaml_text(textwrap.dedent(text), "hw.yaml"), "hw.yaml")


GOOD = """
version: 1
name: t
clock: 1 GHz
pe_array: {rows: 4, cols: 8, dataflow: os}
memories:
  - {name: glb, size: 64 KiB}
dram: {bandwidth: 8 B/cycle, latency: 10 cycles}
"""


def test_minimal_config_loads():
    hw = _hw(GOOD)
    assert (hw.pe_array.rows, hw.pe_array.cols, hw.pe_array.dataflow) == (4, 8, "os")
    assert hw.memory("glb").size_bytes == 65536
    assert hw.dram.bandwidth_bytes_per_cycle == 8 and hw.dram.latency_cycles == 10


def test_duplicate_key_rejected_with_line():
    with pytest.raises(ConfigError, match=r"line 3.*duplicate key 'name' \(first on line 2\)"):
        parse_yaml_text("version: 1\nname: a\nname: b\n", "x.yaml")


def test_malformed_yaml_names_the_line():
    with pytest.raises(ConfigError, match=r"x.yaml: line 2"):
        parse_yaml_text("a: 1\n  b: [\n", "x.yaml")


def test_every_problem_listed_at_once_with_did_you_mean():
    text = GOOD.replace("cols: 8", "colls: 8").replace("size: 64 KiB", "size: 64KB").replace("os}", "xs}")
    with pytest.raises(ConfigError) as err:
        _hw(text)
    msg = str(err.value)
    assert "3 problems" in msg or "4 problems" in msg
    assert "pe_array.colls: unknown key (did you mean 'cols'?)" in msg
    assert "memories[0].size: '64KB' is not a size; write e.g. '64 KiB'" in msg
    assert "pe_array.dataflow: 'xs' is not one of is, os, ws, row_stationary (did you mean 'ws'?)" in msg


@pytest.mark.parametrize("change,needle", [
    ("rows: 4", "rows: 0"), ("rows: 4", "rows: -3"), ("64 KiB", "0 B"),
])
def test_zero_and_negative_sizes_rejected(change, needle):
    with pytest.raises(ConfigError, match="positive|larger than 0"):
        _hw(GOOD.replace(change, needle))


def test_wrong_unit_rejected():
    with pytest.raises(ConfigError, match="clock: '1000' is not a frequency"):
        _hw(GOOD.replace("1 GHz", "'1000'"))


def test_skip_with_dense_format_is_a_config_error():
    text = GOOD + "sparsity:\n  weights: {format: dense, skip: skip}\n"
    with pytest.raises(ConfigError, match="sparsity.weights.skip.*format 'dense' stores none"):
        _hw(text)


def test_operand_without_buffer_rejected():
    with pytest.raises(ConfigError, match="no on-chip buffer holds weights"):
        _hw(GOOD.replace("{name: glb, size: 64 KiB}", "{name: glb, size: 64 KiB, holds: [inputs, outputs]}"))


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        read_yaml("/nonexistent/hw.yaml")


def test_every_shipped_config_loads():
    names = shipped_hardware_names()
    assert {"dense_os", "dense_ws", "dense_is", "tpu_like"} <= set(names)
    for name in names:
        hw = load_hardware(name)
        assert hw.name == name


def test_configs_alias_is_the_shipped_config_and_any_other_missing_path_an_error():
    path, note = resolve_hardware_path("configs/dense_ws.yaml")  # the README's alias
    assert path.name == "dense_ws.yaml" and path.is_file()
    assert note == "configs/dense_ws.yaml is the shipped dense_ws (hw_configs/dense_ws.yaml)"
    assert resolve_hardware_path("dense_ws")[1] is None
    hint = r"file not found \(did you mean hw_configs/dense_ws.yaml or --hw dense_ws\?\)$"
    for typo in ("my/dense_ws.yaml", "dense_ws.yaml", "configs/x/dense_ws.yaml", "config/dense_ws.yml"):
        with pytest.raises(ConfigError, match=f"^{typo}: {hint}"):
            resolve_hardware_path(typo)


def test_unknown_hardware_name_lists_close_ones():
    with pytest.raises(Exception, match="did you mean 'dense_ws'"):
        resolve_hardware_path("dense_wss")


def test_overrides_by_dotted_path_revalidate():
    hw = load_hardware("dense_ws", {"pe_array.rows": 8, "memories.ifmap_sram.size": "128 KiB"})
    assert hw.pe_array.rows == 8 and hw.memory("ifmap_sram").size_bytes == 131072
    with pytest.raises(ConfigError, match="did you mean 'rows'"):
        load_hardware("dense_ws", {"pe_array.rowz": 8})
    with pytest.raises(ConfigError, match="no entry 'glbb'"):
        load_hardware("dense_ws", {"memories.glbb.size": "1 MiB"})


def test_set_dotted_does_not_mutate():
    raw = {"a": {"b": 1}}
    assert set_dotted(raw, "a.b", 2, "s") == {"a": {"b": 2}} and raw == {"a": {"b": 1}}


def test_errors_survive_pickling():
    """Errors raised in sweep worker processes reach the parent whole."""
    import pickle

    from accelsim.errors import UnknownNameError

    errors = (ConfigError("a.yaml", ["x: bad", "y: worse"]),
              UnknownNameError("model", "resnt50", ["resnet50"]))
    for err in errors:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)


@pytest.fixture
def plugin_dataflow():
    """A dataflow and a timing model registered at run time (the built-in ws under new names)."""
    from accelsim.registry import DATAFLOWS, TIMING_MODELS

    DATAFLOWS.add("my_ws", DATAFLOWS.get("ws"))
    TIMING_MODELS.add("my_timing", TIMING_MODELS.get("accelsim"))
    yield
    DATAFLOWS.remove("my_ws")
    TIMING_MODELS.remove("my_timing")


def test_names_registered_at_run_time_are_accepted(plugin_dataflow):
    hw = _hw(GOOD.replace("dataflow: os", "dataflow: my_ws") + "timing: my_timing\n")
    assert (hw.pe_array.dataflow, hw.timing) == ("my_ws", "my_timing")
    with pytest.raises(ConfigError, match=r"dataflow: 'my_wss' is not one of .* \(did you mean 'my_ws'\?\)"):
        _hw(GOOD.replace("dataflow: os", "dataflow: my_wss"))


def test_unknown_timing_and_energy_table_say_did_you_mean():
    with pytest.raises(ConfigError) as err:
        _hw(GOOD + "timing: scalsim\nenergy: horowitz_45\n")
    assert set(err.value.problems) == {
        "timing: 'scalsim' is not one of accelsim, scalesim, stonne_mesh (did you mean 'scalesim'?)",
        "energy: 'horowitz_45' is not one of eyeriss_65nm, horowitz_45nm, nor the path of a YAML energy table"
        " (did you mean 'horowitz_45nm'?)"}


def test_energy_table_may_be_a_path(tmp_path):
    from accelsim.registry import ENERGY_MODELS

    table = tmp_path / "mine.yaml"
    table.write_text(ENERGY_MODELS.get("horowitz_45nm").read_text())
    assert _hw(GOOD + f"energy: {table}\n").energy_table == str(table)


def test_operands_are_strings_in_dicts_and_json():
    import json
    from dataclasses import asdict

    from accelsim.spec.hardware import OPERANDS, Operand

    hw = _hw(GOOD.replace("{name: glb, size: 64 KiB}", "{name: glb, size: 64 KiB, holds: [weights, inputs]}")
             .replace("memories:", "memories:\n  - {name: out, size: 1 KiB, holds: [outputs]}"))
    assert OPERANDS == ("inputs", "weights", "outputs")
    assert hw.memory("glb").holds == (Operand.WEIGHTS, "inputs")
    assert all(type(op) is Operand for op in hw.memory("glb").holds)
    assert {Operand.INPUTS: 1}["inputs"] == 1
    assert json.loads(json.dumps(asdict(hw)["memories"]))[1]["holds"] == ["weights", "inputs"]


# ---------------------------------------------------------------- flexible arrays (spec/pe_array.py)

FLEX = GOOD.replace("pe_array: {rows: 4, cols: 8, dataflow: os}", "pe_array: {multipliers: 16}") + """
sparsity:
  weights: {format: bitmask, skip: skip, exploits: [unstructured]}
"""


def test_a_flexible_array_is_a_line_of_multipliers_with_full_bandwidth_by_default():
    from accelsim.spec.pe_array import FlexiblePEArray

    pe = _hw(FLEX).pe_array
    assert isinstance(pe, FlexiblePEArray) and (pe.rows, pe.cols, pe.multipliers) == (16, 1, 16)
    assert (pe.dataflow, pe.distribution_ports, pe.reduction_ports, pe.tile) == ("ws", 16, 16, None)
    pe = _hw(FLEX.replace("{multipliers: 16}", "{multipliers: 16, distribution: {ports: 4},"
                                               " reduction: {ports: 2}}")).pe_array
    assert (pe.distribution_ports, pe.reduction_ports) == (4, 2)
    dense = FLEX.replace("skip: skip, exploits: [unstructured]", "skip: none")
    assert _hw(dense.replace("{multipliers: 16}", "{multipliers: 16, tile: {m: 2, n: 2, k: 4}}")
               ).pe_array.tile == (2, 2, 4)


def test_grid_and_flexible_keys_do_not_mix():
    with pytest.raises(ConfigError) as err:
        _hw(FLEX.replace("{multipliers: 16}", "{multipliers: 16, rows: 4, cols: 4}"))
    line = "a flexible array is a line of multipliers, not rows x cols; remove it"
    assert set(err.value.problems) == {f"pe_array.rows: {line}", f"pe_array.cols: {line}"}
    with pytest.raises(ConfigError, match="pe_array.distribution: applies to a flexible array"
                                          r" \(pe_array.multipliers\), not a rows x cols grid"):
        _hw(GOOD.replace("dataflow: os}", "dataflow: os, distribution: {ports: 4}}"))


def test_network_parameters_are_checked_all_at_once():
    with pytest.raises(ConfigError) as err:
        _hw(FLEX.replace("16}", "24, distribution: {ports: 32}, reduction: {ports: 32}}"))
    assert set(err.value.problems) == {
        "pe_array.multipliers: 24 is not a power of two between 2 and 1,048,576 (2^20, 16 x TPU v1's 65,536"
        " MACs)",
        "pe_array.distribution.ports: 32 is not a power of two between 1 and the 24 multipliers",
        "pe_array.reduction.ports: 32 is not between 1 and the 24 multipliers"}
    with pytest.raises(ConfigError) as err:  # a value that does not parse: no range check on a stand-in
        _hw(FLEX.replace("16}", "24, reduction: {ports: 0}}"))
    assert err.value.problems == ("pe_array.reduction.ports: 0 is not a positive whole number",)
    with pytest.raises(ConfigError, match=r"pe_array.tile: T_M \* T_N \* T_K = 32 MACs must fit the 16"):
        _hw(FLEX.replace("skip: skip, exploits: [unstructured]", "skip: none")
            .replace("{multipliers: 16}", "{multipliers: 16, tile: {m: 2, n: 2, k: 8}}"))


@pytest.mark.parametrize("text,path,needle", [
    (FLEX + "timing: scalesim\n", "timing", "not from a timing model"),
    (FLEX.replace("16}", "16, dataflow: os}"), "pe_array.dataflow", "'os' does not hold the weights"),
    (FLEX.replace("16}", "16, tile: {m: 1, n: 1, k: 4}}"), "pe_array.tile", "takes no tile"),
    (FLEX.replace("skip: skip, exploits: [unstructured]", "skip: gate"), "pe_array.tile", "needs its tile"),
    (FLEX.replace("[unstructured]", "[unstructured, window]"), "sparsity.weights.exploits",
     "write exploits: [unstructured]"),
    (FLEX + "  inputs: {format: bitmask, skip: skip}\n", "sparsity.inputs.skip", "zero or not"),
], ids=["timing", "dataflow", "tile with skip", "no tile", "exploits", "inputs skip"])
def test_what_a_flexible_controller_cannot_run_is_refused(text, path, needle):
    with pytest.raises(ConfigError) as err:
        _hw(text)
    assert [p for p in err.value.problems if p.startswith(f"{path}: ") and needle in p], err.value.problems


def test_a_file_that_is_not_text_or_too_deep_is_one_config_error(tmp_path):
    from accelsim.spec.config import MAX_DEPTH

    (tmp_path / "w.pt").write_bytes(b"PK\x03\x04\x80\x81")
    with pytest.raises(ConfigError, match=r"w.pt: not a text file \(byte 0x80 at offset 4 is not UTF-8\);"
                                          " expected a YAML file"):
        read_yaml(tmp_path / "w.pt")
    levels = MAX_DEPTH - 1  # lists in the top mapping
    assert parse_yaml_text("a: " + "[" * levels + "]" * levels, "x") is not None  # at the limit
    for text in ("a: " + "[" * (levels + 1) + "]" * (levels + 1), "a: " + "{b: " * 3000 + "}" * 3000):
        with pytest.raises(ConfigError, match=f"x: lists or mappings nested more than {MAX_DEPTH} levels"):
            parse_yaml_text(text, "x")
    assert parse_yaml_text("a: &x [*x]\nb: 1\n", "x")["b"] == 1  # an alias cycle is no depth


def test_a_missing_file_names_the_path_one_typo_away(tmp_path):
    (tmp_path / "myconfigs").mkdir()
    (tmp_path / "myconfigs" / "hw.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigError, match=r"myconfig/hw.yaml: file not found \(did you mean .*myconfigs/hw."):
        read_yaml(tmp_path / "myconfig" / "hw.yaml")
    with pytest.raises(ConfigError, match=r"hw.yml: file not found \(did you mean .*myconfigs/hw.yaml\?\)"):
        read_yaml(tmp_path / "myconfigs" / "hw.yml")
    with pytest.raises(ConfigError, match=r"other.yaml: file not found$"):
        read_yaml(tmp_path / "myconfigs" / "other.yaml")
    with pytest.raises(ConfigError, match="myconfigs: is a directory; expected a YAML file"):
        read_yaml(tmp_path / "myconfigs")
