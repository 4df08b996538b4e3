"""Reference Verilog of the arrays accelsim models, and their Icarus Verilog runner (README.md)."""
