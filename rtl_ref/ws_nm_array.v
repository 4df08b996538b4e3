// Flexible N:M weight-sparse weight-stationary (WS) systolic array (VEGETA-style: one M = 4 engine,
// the layer's own N in {1, 2, 4}): R x C PEs, int8 operands, int32 accumulation. Verilog-2005;
// simulated with Icarus Verilog 11 by tb_ws_nm.v (see README.md).
//
// It is ws_sparse_array.v with N a run-time input (KEEP) instead of 2: B keeps at most N of every 4
// consecutive k per column and is stored as S = N*ceil(K/4) slots (slot s: group s / N) of a value
// and a 2-bit index. The PE is ws_sparse_pe itself (ws_sparse_array.v): a 4-wide activation group and
// a 4:1 mux, whatever N is; only the controller's slot-to-group map changes. So the timing is the WS
// formula with Sr = N*ceil(K/4): N = 1 streams a quarter of the dense rows, N = 4 all of them.

module ws_nm_array #(
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
    input  wire [15:0] KEEP,  // N: slots per group of 4 (1, 2 or 4 on a VEGETA engine; any 1..4 runs)
    output wire        y_we,  // a partial sum is written into y_mem at the end of this cycle
    output reg         done
);
  reg signed [7:0]  a_mem  [0:DEPTH-1];  // A[m][k] at m*K + k
  reg signed [7:0]  bv_mem [0:DEPTH-1];  // kept weight value of slot s, column n at s*N + n
  reg        [1:0]  bi_mem [0:DEPTH-1];  // its index in the group of 4
  reg signed [31:0] y_mem  [0:DEPTH-1];  // Y[m][n] at m*N + n

  wire [15:0] S = KEEP * ((K + 3) / 4);  // kept slots: the array's reduction rows
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
    // left edge: row i (slot s0+i, group g = slot / N) reads A[m][4g +: 4], enters i cycles later
    for (i = 0; i < R; i = i + 1) begin : g_left
      wire [31:0] g = (s_s0 + i) / KEEP;
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
