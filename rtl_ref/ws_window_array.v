// Window-sparse (Campfire "window", m of R*S kept per window) weight-stationary systolic array:
// R x C PEs, int8 operands, int32 accumulation. Verilog-2005; simulated with Icarus Verilog 11 by
// tb_ws_window.v (see README.md).
//
// GEMM Y[M x N] = A[M x K] * B[K x N], K = RS * CH in (position p, channel c) order, c fastest
// (accelsim's fiber order): window (c, n) is B[p*CH + c][n] for p = 0 .. RS-1, at stride CH. The
// row bus of the array is BW activations wide (BW = 9: a 3x3 window). A window is cut into
// J = ceil(RS / BW) sub-windows of BW positions (one, when RS <= BW), and every sub-window keeps
// at most KEEP weights. B is stored compressed: for each of the S = KEEP * J * CH kept slots s
// (unit u = s / KEEP = c * J + j: channel c, sub-window j) and column n, a value bv[s][n] and the
// kept weight's position inside the sub-window, bi[s][n] in 0 .. BW-1 (positional: IW bits).
// Padding slots hold value 0.
//
// Index choice: positional, one IW = ceil(log2 BW)-bit index per PE (4 bits for 3x3), not the
// minimal ceil(log2 C(RS, m)) per window (7 bits for 3 of 9): each PE then selects its own
// activation with a plain BW:1 mux, and needs no unranking decoder (a C(9,3) = 84-entry table
// per window or per PE) between the weight store and the mux. It costs m*4 = 12 bits per 3-of-9
// window instead of 7.
//
// It is ws_array.v with one change in the PE: a row receives the BW-wide activation bus of its
// slot's sub-window, A[m][(j*BW + e)*CH + c] for e = 0 .. BW-1 (zero past RS), passes the whole
// bus on to the right, and muxes the activation its index points at. So the rows take the S kept
// slots and the timing is ws_array's with Sr = S:
//   cycles = (F-1)*P + M + 2R + W, F = ceil(S/R)*ceil(N/C), P = max(M, R)   (timing_formula.py)

module window_pe #(
    parameter BW = 9,   // activations on the row bus (the window positions the mux chooses from)
    parameter IW = 4    // index bits: ceil(log2 BW)
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [BW*8-1:0]       a_in,       // from the left: the BW activations of one sub-window
    input  wire                  valid_in,
    input  wire                  first_in,   // step 0 of a fold: commit the shadow weight
    input  wire signed [31:0]    psum_in,    // from above
    input  wire [IW+7:0]         w_in,       // weight load chain from above: {index, value}
    input  wire                  w_shift,
    output reg  [BW*8-1:0]       a_out,
    output reg                   valid_out,
    output reg                   first_out,
    output reg  signed [31:0]    psum_out,
    output reg                   psum_valid,
    output reg                   psum_first,
    output wire [IW+7:0]         w_out
);
  reg  [IW+7:0] w_shadow, w_active;
  wire [IW+7:0] w = first_in ? w_shadow : w_active;
  wire signed [7:0]  w_val = w[7:0];
  wire [IW-1:0]      w_idx = w[IW+7:8];
  wire signed [7:0]  a_sel = a_in[w_idx*8 +: 8];  // the m-of-RS selector: BW:1 mux
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

module ws_window_array #(
    parameter R = 4,
    parameter C = 4,
    parameter BW = 9,
    parameter IW = 4,
    parameter DEPTH = 4096
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        start,
    input  wire [15:0] M,
    input  wire [15:0] N,
    input  wire [15:0] K,
    input  wire [15:0] RS,    // window positions R*S of the layer
    input  wire [15:0] KEEP,  // slots per sub-window (m)
    output wire        y_we,
    output reg         done
);
  reg signed [7:0]  a_mem  [0:DEPTH-1];  // A[m][k] at m*K + k
  reg signed [7:0]  bv_mem [0:DEPTH-1];  // kept weight value of slot s, column n at s*N + n
  reg      [IW-1:0] bi_mem [0:DEPTH-1];  // its position in the sub-window
  reg signed [31:0] y_mem  [0:DEPTH-1];  // Y[m][n] at m*N + n

  wire [15:0] CH = K / RS;
  wire [15:0] J = (RS + BW - 1) / BW;
  wire [15:0] S = KEEP * J * CH;         // kept slots: the array's reduction rows
  wire [15:0] row_folds = (S + R - 1) / R;
  wire [15:0] col_folds = (N + C - 1) / C;
  wire [15:0] P = (M > R) ? M : R;

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

  wire [BW*8-1:0] h_a [0:R*(C+1)-1];
  wire        h_valid [0:R*(C+1)-1];
  wire        h_first [0:R*(C+1)-1];
  wire [31:0] v_psum  [0:(R+1)*C-1];
  wire        v_pv    [0:(R+1)*C-1];
  wire        v_pf    [0:(R+1)*C-1];
  wire [IW+7:0] v_w   [0:(R+1)*C-1];
  wire [C-1:0] col_lvalid;
  wire [15:0]  col_lq  [0:C-1];

  genvar i, j, e;
  generate
    // left edge: row i (slot s0+i: channel c, sub-window jw) reads its sub-window's BW activations
    for (i = 0; i < R; i = i + 1) begin : g_left
      wire [31:0] u = (s_s0 + i) / KEEP;
      wire [31:0] c = u / J;
      wire [31:0] jw = u % J;
      wire [BW*8-1:0] a_bus;
      for (e = 0; e < BW; e = e + 1) begin : g_lane
        wire [31:0] pos = jw * BW + e;
        assign a_bus[e*8 +: 8] = (s_valid && c < CH && pos < RS) ? a_mem[t * K + pos * CH + c] : 8'd0;
      end
      delay_line #(.W(BW*8 + 2), .D(i)) skew (
          .clk(clk), .rst(rst), .din({s_first, s_valid, a_bus}),
          .dout({h_first[i*(C+1)], h_valid[i*(C+1)], h_a[i*(C+1)]}));
    end
    for (j = 0; j < C; j = j + 1) begin : g_top
      wire [31:0] s = l_s0 + R - 1 - t;
      wire [31:0] n = l_n0 + j;
      wire        in_range = l_valid && s < S && n < N;
      wire [IW+7:0] w = in_range ? {bi_mem[s * N + n], bv_mem[s * N + n]} : {(IW+8){1'b0}};
      delay_line #(.W(IW + 8 + 1 + 16), .D(j)) skew (
          .clk(clk), .rst(rst), .din({w, l_valid, t}),
          .dout({v_w[j], col_lvalid[j], col_lq[j]}));
      assign v_psum[j] = 32'sd0;
      assign v_pv[j] = 1'b0;
      assign v_pf[j] = 1'b0;
    end
    for (i = 0; i < R; i = i + 1) begin : g_row
      for (j = 0; j < C; j = j + 1) begin : g_col
        wire shift = col_lvalid[j] && (col_lq[j] >= i);
        window_pe #(.BW(BW), .IW(IW)) pe (
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
  wire [C-1:0] wr;
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
  integer c_i, nw;
  always @(posedge clk) begin
    if (rst || (start && !busy)) begin
      writes <= 0; done <= 0;
    end else begin
      nw = 0;
      for (c_i = 0; c_i < C; c_i = c_i + 1) begin
        if (wr[c_i]) begin
          addr = wr_addr[c_i];
          y_mem[addr] <= (wr_over[c_i] ? 32'sd0 : y_mem[addr]) + $signed(v_psum[R*C+c_i]);
          nw = nw + 1;
        end
      end
      writes <= writes + nw;
      done <= (writes + nw == M * N * row_folds);
    end
  end
endmodule
