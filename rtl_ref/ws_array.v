// Weight-stationary (WS) systolic array: R x C PEs, int8 operands, int32 accumulation.
// Verilog-2005; simulated with Icarus Verilog 11 by tb_ws.v (see README.md).
//
// GEMM Y[M x N] = A[M x K] * B[K x N]. Array rows take K, columns take N, time streams M.
// Fold (rf, cf) holds the weights B[rf*R +: R][cf*C +: C]; folds run column fold outer.
// (Input stationary is the same array on the transposed GEMM: Y^T = B^T * A^T.)
//
// Microarchitecture
//   * Every PE has a shadow and an active weight register. The shadow registers of a column form
//     a shift chain loaded from the top in R steps (B[k0+R-1][n] first). Column j's load is
//     delayed j cycles, like its data.
//   * Step m of a fold puts A[m][k0+i] on the left edge of row i, delayed i cycles, so PE(i,j)
//     does step m in cycle s + m + i + j. A "first" tag travels with step 0: on it the PE
//     uses the shadow weight and copies it into the active register (commit). So the commit
//     sweeps the array diagonally with the data, and fold f+1 streams right behind fold f.
//   * Partial sums flow down; the bottom of column j gives Y's partial sum for (m, n) in cycle
//     s + m + R + j. A collector adds it into the output buffer y_mem (row folds > 0
//     read-modify-write; row fold 0 overwrites).
//   * The next fold's weights load while the current fold streams: load of fold f+1 starts
//     with fold f (cycle s_f + j in column j). Row i's shadow only shifts in load steps q >= i,
//     the steps from its own commit on (a plain shift chain would clobber rows that have not
//     yet committed); after step R-1 row i holds B[k0+i][n]. So a fold slot lasts
//     P = max(M, R) cycles (bubbles pad it when M < R); only the first fold's load (R cycles)
//     is exposed.
//   * Rows/columns outside K/N get zero weights and zero activations; writes outside N are
//     masked. Operand buffers are read combinationally (register files).
//
// Cycle count: cycle 0 is the cycle in which start is high; the last result is written at the
// end of cycle L; cycles = L + 1 = (F-1)*P + M + 2R + W, F = folds, W = the skew tail: the last
// fold's used columns, or C - row_folds*P if the full-width fold before a narrow last one ends
// later. (timing_formula.py)

module ws_pe (
    input  wire               clk,
    input  wire               rst,
    input  wire signed [7:0]  a_in,       // from the left, with the fold tags
    input  wire               valid_in,   // a real step (not a bubble)
    input  wire               first_in,   // step 0 of a fold: commit the shadow weight
    input  wire signed [31:0] psum_in,    // from above
    input  wire signed [7:0]  w_in,       // weight load chain from above
    input  wire               w_shift,    // load: shadow <= w_in
    output reg  signed [7:0]  a_out,
    output reg                valid_out,
    output reg                first_out,
    output reg  signed [31:0] psum_out,
    output reg                psum_valid,
    output reg                psum_first,
    output wire signed [7:0]  w_out       // this PE's shadow weight, to the PE below
);
  reg signed [7:0] w_shadow, w_active;
  wire signed [7:0]  w = first_in ? w_shadow : w_active;
  wire signed [15:0] prod = a_in * w;
  assign w_out = w_shadow;

  always @(posedge clk) begin
    if (rst) begin
      a_out <= 0; valid_out <= 0; first_out <= 0;
      psum_out <= 0; psum_valid <= 0; psum_first <= 0;
      w_shadow <= 0; w_active <= 0;
    end else begin
      a_out <= a_in; valid_out <= valid_in; first_out <= first_in;
      psum_out <= psum_in + prod;
      psum_valid <= valid_in;
      psum_first <= first_in;
      if (first_in) w_active <= w_shadow;
      if (w_shift) w_shadow <= w_in;
    end
  end
endmodule

module ws_array #(
    parameter R = 4,
    parameter C = 4,
    parameter DEPTH = 4096
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [15:0] M,
    input  wire [15:0] N,
    input  wire [15:0] K,
    output wire        y_we,  // a partial sum is written into y_mem at the end of this cycle
    output reg         done
);
  reg signed [7:0]  a_mem [0:DEPTH-1];  // A[m][k] at m*K + k
  reg signed [7:0]  b_mem [0:DEPTH-1];  // B[k][n] at k*N + n
  reg signed [31:0] y_mem [0:DEPTH-1];  // Y[m][n] at m*N + n

  wire [15:0] row_folds = (K + R - 1) / R;
  wire [15:0] col_folds = (N + C - 1) / C;
  wire [15:0] P = (M > R) ? M : R;      // fold slot length

  // ---- controller: a preload slot of R cycles, then one slot of P cycles per fold ----
  reg        busy, pre;
  reg [15:0] t, rf, cf;                 // step in the slot; fold being streamed
  wire       last_rf = (rf == row_folds - 1);
  wire       last_fold = last_rf && (cf == col_folds - 1);
  wire [15:0] next_rf = last_rf ? 16'd0 : rf + 1;
  wire [15:0] next_cf = last_rf ? cf + 1 : cf;

  always @(posedge clk) begin
    if (rst) begin
      busy <= 0; pre <= 0; t <= 0; rf <= 0; cf <= 0;
    end else if (start && !busy) begin
      busy <= 1; pre <= 1; t <= 0; rf <= 0; cf <= 0;
    end else if (busy && pre) begin
      if (t == R - 1) begin pre <= 0; t <= 0; end
      else t <= t + 1;
    end else if (busy && t == P - 1) begin
      t <= 0;
      if (last_fold) busy <= 0;
      else begin rf <= next_rf; cf <= next_cf; end
    end else if (busy) begin
      t <= t + 1;
    end
  end

  // streaming: fold (rf, cf), step m = t
  wire        s_valid = busy && !pre && (t < M);
  wire        s_first = s_valid && (t == 0);
  wire [15:0] s_k0 = rf * R;
  // loading: during the preload slot fold (0, 0), afterwards the next fold; load step q = t
  wire        l_valid = busy && (pre || (t < R && !last_fold));
  wire [15:0] l_k0 = (pre ? rf : next_rf) * R;
  wire [15:0] l_n0 = (pre ? cf : next_cf) * C;

  // ---- array wiring: one net per PE port ----
  // horizontal nets, row i, between column j-1 and j: index i*(C+1) + j
  wire [7:0]  h_a     [0:R*(C+1)-1];
  wire        h_valid [0:R*(C+1)-1];
  wire        h_first [0:R*(C+1)-1];
  // vertical nets, column j, between row i-1 and i: index i*C + j
  wire [31:0] v_psum  [0:(R+1)*C-1];
  wire        v_pv    [0:(R+1)*C-1];
  wire        v_pf    [0:(R+1)*C-1];
  wire [7:0]  v_w     [0:(R+1)*C-1];
  wire [C-1:0] col_lvalid;
  wire [15:0]  col_lq  [0:C-1];

  genvar i, j;
  generate
    // left edge: row i reads A[m][k0+i] now and enters i cycles later
    for (i = 0; i < R; i = i + 1) begin : g_left
      wire [31:0] kk = s_k0 + i;
      wire signed [7:0] a = (s_valid && kk < K) ? a_mem[t * K + kk] : 8'sd0;
      delay_line #(.W(10), .D(i)) skew (
          .clk(clk), .rst(rst), .din({s_first, s_valid, a}),
          .dout({h_first[i*(C+1)], h_valid[i*(C+1)], h_a[i*(C+1)]}));
    end
    // top edge: column j's weight load (B[k0+R-1-q][n0+j] at step q) runs j cycles late
    for (j = 0; j < C; j = j + 1) begin : g_top
      wire [31:0] kk = l_k0 + R - 1 - t;
      wire [31:0] n = l_n0 + j;
      wire signed [7:0] w = (l_valid && kk < K && n < N) ? b_mem[kk * N + n] : 8'sd0;
      delay_line #(.W(8 + 1 + 16), .D(j)) skew (
          .clk(clk), .rst(rst), .din({w, l_valid, t}),
          .dout({v_w[j], col_lvalid[j], col_lq[j]}));
      assign v_psum[j] = 32'sd0;
      assign v_pv[j] = 1'b0;
      assign v_pf[j] = 1'b0;
    end
    for (i = 0; i < R; i = i + 1) begin : g_row
      for (j = 0; j < C; j = j + 1) begin : g_col
        // row i shifts in load steps q >= i only (after its commit of the current fold)
        wire shift = col_lvalid[j] && (col_lq[j] >= i);
        ws_pe pe (
            .clk(clk), .rst(rst),
            .a_in(h_a[i*(C+1)+j]), .valid_in(h_valid[i*(C+1)+j]),
            .first_in(h_first[i*(C+1)+j]),
            .psum_in(v_psum[i*C+j]),
            .w_in(v_w[i*C+j]), .w_shift(shift),
            .a_out(h_a[i*(C+1)+j+1]), .valid_out(h_valid[i*(C+1)+j+1]),
            .first_out(h_first[i*(C+1)+j+1]),
            .psum_out(v_psum[(i+1)*C+j]), .psum_valid(v_pv[(i+1)*C+j]),
            .psum_first(v_pf[(i+1)*C+j]),
            .w_out(v_w[(i+1)*C+j]));
      end
    end
  endgenerate

  // ---- bottom collectors: column j gives (m = 0..M-1) of each fold in order ----
  wire [C-1:0] wr;                 // write this cycle
  wire [C-1:0] wr_over;            // row fold 0: overwrite instead of accumulate
  wire [31:0]  wr_addr [0:C-1];
  generate
    for (j = 0; j < C; j = j + 1) begin : g_out
      ws_out_column #(.C(C), .J(j)) col (
          .clk(clk), .clear(rst || (start && !busy)), .pv(v_pv[R*C+j]), .pf(v_pf[R*C+j]),
          .row_folds(row_folds), .N(N), .wr(wr[j]), .wr_over(wr_over[j]), .wr_addr(wr_addr[j]));
    end
  endgenerate

  assign y_we = |wr;

  reg [31:0] writes;
  reg [31:0] addr;
  integer c, nw;
  always @(posedge clk) begin
    if (rst || (start && !busy)) begin
      writes <= 0; done <= 0;
    end else begin
      nw = 0;
      for (c = 0; c < C; c = c + 1) begin
        if (wr[c]) begin
          addr = wr_addr[c];
          y_mem[addr] <= (wr_over[c] ? 32'sd0 : y_mem[addr]) + $signed(v_psum[R*C+c]);
          nw = nw + 1;
        end
      end
      writes <= writes + nw;
      done <= (writes + nw == M * N * row_folds);
    end
  end
endmodule
