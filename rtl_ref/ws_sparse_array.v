// 2:4 weight-sparse weight-stationary (WS) systolic array: R x C PEs, int8 operands, int32
// accumulation. Verilog-2005; simulated with Icarus Verilog 11 by tb_ws_sparse.v (see README.md).
//
// GEMM Y[M x N] = A[M x K] * B[K x N] where B is 2:4 sparse along K: every group of 4
// consecutive k (per column n) has at most 2 nonzeros. B is stored compressed: for each of the
// S = 2*ceil(K/4) kept slots s (group g = s/2) and column n, a value bv[s][n] and a 2-bit index
// bi[s][n] (its k = 4g + bi). Padding slots hold value 0.
//
// It is ws_array.v with one change in the PE: the activations of a row are the 4-wide group
// A[m][4g +: 4] of the row's slot, and the PE muxes the one its weight index points at. So the
// array rows take the S kept slots (K/2 rows handle K reduction elements), columns take N, time
// streams M, and the timing is ws_array's with Sr = S:
//   cycles = (F-1)*P + M + 2R + W, F = ceil(S/R)*ceil(N/C), P = max(M, R),
//   W = the skew tail as in ws_array.v (timing_formula.py).
// A fold (rf, cf) holds slots rf*R +: R of columns cf*C +: C. Shadow/active weight registers,
// diagonal commit, overlapped weight load and the bottom collectors are as in ws_array.v.

module ws_sparse_pe (
    input  wire               clk,
    input  wire               rst,
    input  wire [31:0]        a_in,       // from the left: 4 int8 activations of one group
    input  wire               valid_in,   // a real step (not a bubble)
    input  wire               first_in,   // step 0 of a fold: commit the shadow weight
    input  wire signed [31:0] psum_in,    // from above
    input  wire [9:0]         w_in,       // weight load chain from above: {index, value}
    input  wire               w_shift,    // load: shadow <= w_in
    output reg  [31:0]        a_out,
    output reg                valid_out,
    output reg                first_out,
    output reg  signed [31:0] psum_out,
    output reg                psum_valid,
    output reg                psum_first,
    output wire [9:0]         w_out       // this PE's shadow weight, to the PE below
);
  reg  [9:0] w_shadow, w_active;
  wire [9:0] w = first_in ? w_shadow : w_active;
  wire signed [7:0]  w_val = w[7:0];
  wire [1:0]         w_idx = w[9:8];
  wire signed [7:0]  a_sel = a_in[w_idx*8 +: 8];  // the activation the kept weight belongs to
  wire signed [15:0] prod = a_sel * w_val;
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

module ws_sparse_array #(
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
  reg signed [7:0]  a_mem  [0:DEPTH-1];  // A[m][k] at m*K + k
  reg signed [7:0]  bv_mem [0:DEPTH-1];  // kept weight value of slot s, column n at s*N + n
  reg        [1:0]  bi_mem [0:DEPTH-1];  // its index in the group of 4
  reg signed [31:0] y_mem  [0:DEPTH-1];  // Y[m][n] at m*N + n

  wire [15:0] S = 2 * ((K + 3) / 4);     // kept slots: the array's reduction rows
  wire [15:0] row_folds = (S + R - 1) / R;
  wire [15:0] col_folds = (N + C - 1) / C;
  wire [15:0] P = (M > R) ? M : R;       // fold slot length

  // ---- controller (as ws_array): a preload slot of R cycles, then a slot of P cycles per fold
  reg        busy, pre;
  reg [15:0] t, rf, cf;
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

  wire        s_valid = busy && !pre && (t < M);
  wire        s_first = s_valid && (t == 0);
  wire [15:0] s_s0 = rf * R;
  wire        l_valid = busy && (pre || (t < R && !last_fold));
  wire [15:0] l_s0 = (pre ? rf : next_rf) * R;
  wire [15:0] l_n0 = (pre ? cf : next_cf) * C;

  // ---- array wiring: one net per PE port ----
  wire [31:0] h_a [0:R*(C+1)-1];
  wire        h_valid [0:R*(C+1)-1];
  wire        h_first [0:R*(C+1)-1];
  wire [31:0] v_psum  [0:(R+1)*C-1];
  wire        v_pv    [0:(R+1)*C-1];
  wire        v_pf    [0:(R+1)*C-1];
  wire [9:0]  v_w     [0:(R+1)*C-1];
  wire [C-1:0] col_lvalid;
  wire [15:0]  col_lq  [0:C-1];

  genvar i, j, e;
  generate
    // left edge: row i (slot s0+i, group g) reads A[m][4g +: 4] now and enters i cycles later
    for (i = 0; i < R; i = i + 1) begin : g_left
      wire [31:0] g = (s_s0 + i) / 2;
      wire [31:0] a_group;
      for (e = 0; e < 4; e = e + 1) begin : g_elem
        wire [31:0] kk = 4 * g + e;
        assign a_group[e*8 +: 8] = (s_valid && kk < K) ? a_mem[t * K + kk] : 8'd0;
      end
      delay_line #(.W(34), .D(i)) skew (
          .clk(clk), .rst(rst), .din({s_first, s_valid, a_group}),
          .dout({h_first[i*(C+1)], h_valid[i*(C+1)], h_a[i*(C+1)]}));
    end
    // top edge: column j's weight load (slot s0+R-1-q at step q) runs j cycles late
    for (j = 0; j < C; j = j + 1) begin : g_top
      wire [31:0] s = l_s0 + R - 1 - t;
      wire [31:0] n = l_n0 + j;
      wire        in_range = l_valid && s < S && n < N;
      wire [9:0]  w = in_range ? {bi_mem[s * N + n], bv_mem[s * N + n]} : 10'd0;
      delay_line #(.W(10 + 1 + 16), .D(j)) skew (
          .clk(clk), .rst(rst), .din({w, l_valid, t}),
          .dout({v_w[j], col_lvalid[j], col_lq[j]}));
      assign v_psum[j] = 32'sd0;
      assign v_pv[j] = 1'b0;
      assign v_pf[j] = 1'b0;
    end
    for (i = 0; i < R; i = i + 1) begin : g_row
      for (j = 0; j < C; j = j + 1) begin : g_col
        wire shift = col_lvalid[j] && (col_lq[j] >= i);
        ws_sparse_pe pe (
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

  // ---- bottom collectors (as ws_array) ----
  wire [C-1:0] wr;                 // write this cycle
  wire [C-1:0] wr_over;
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
