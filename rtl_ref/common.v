// Helpers shared by the reference arrays in rtl_ref/ (Verilog-2005, Icarus Verilog 11).

// delay_line: a D-stage shift register (D = 0 is a plain wire), reset to zero.
// The arrays use it to skew their edge inputs: row i enters i cycles late, column j j cycles late.
module delay_line #(
    parameter W = 1,
    parameter D = 0
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] din,
    output wire [W-1:0] dout
);
  generate
    if (D == 0) begin : g_wire
      assign dout = din;
    end else begin : g_regs
      reg [W-1:0] stage [0:D-1];
      integer s;
      always @(posedge clk) begin
        if (rst) begin
          for (s = 0; s < D; s = s + 1) stage[s] <= {W{1'b0}};
        end else begin
          stage[0] <= din;
          for (s = 1; s < D; s = s + 1) stage[s] <= stage[s-1];
        end
      end
      assign dout = stage[D-1];
    end
  endgenerate
endmodule
