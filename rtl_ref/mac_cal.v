// mac_cal: the arithmetic of one PE alone, int8 x int8 multiply + int32 accumulate, combinational.
// Only for area/energy scaling (cells.py): Horowitz (ISSCC 2014, 45 nm) prices exactly this
// operation at 0.2 + 0.1 pJ and 282 + 137 um^2 (8-bit multiply + 32-bit add), so its yosys cell
// count turns generic cells into pJ and um^2.
module mac_cal (
    input  wire signed [7:0]  a,
    input  wire signed [7:0]  w,
    input  wire signed [31:0] psum_in,
    output wire signed [31:0] psum_out
);
  assign psum_out = psum_in + a * w;
endmodule
