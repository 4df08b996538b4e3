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


// ws_out_column: the write port of column J of a WS array into its output buffer.  It follows the
// sums leaving the bottom of the column (pv: a valid sum, pf: step 0 of a fold, column fold outer)
// to the output element each belongs to; row fold 0 overwrites, later row folds accumulate.
module ws_out_column #(
    parameter C = 4,
    parameter J = 0
) (
    input  wire        clk,
    input  wire        clear,      // reset, or a new GEMM starts
    input  wire        pv,
    input  wire        pf,
    input  wire [15:0] row_folds,
    input  wire [15:0] N,
    output wire        wr,
    output wire        wr_over,
    output wire [31:0] wr_addr
);
  reg  [15:0] cm, crf, ccf;  // last step seen and its fold
  reg         started;
  wire        adv = pf && started;  // a new fold begins (the very first one is (0, 0))
  wire [15:0] m = pf ? 16'd0 : cm + 1;
  wire [15:0] frf = adv ? ((crf == row_folds - 1) ? 16'd0 : crf + 1) : crf;
  wire [15:0] fcf = adv ? ((crf == row_folds - 1) ? ccf + 1 : ccf) : ccf;
  wire [31:0] n = fcf * C + J;
  assign wr = pv && n < N;
  assign wr_over = (frf == 0);
  assign wr_addr = m * N + n;
  always @(posedge clk) begin
    if (clear) begin
      cm <= 0; crf <= 0; ccf <= 0; started <= 0;
    end else if (pv) begin
      cm <= m; crf <= frf; ccf <= fcf; started <= 1;
    end
  end
endmodule
