// Output-stationary (OS) systolic array: R x C PEs, int8 operands, int32 accumulation.
// Verilog-2005; simulated with Icarus Verilog 11 by tb_os.v (see README.md).
//
// GEMM Y[M x N] = A[M x K] * B[K x N]. Array rows take M, columns take N, time streams K.
// Fold (rf, cf) computes the tile Y[rf*R +: R][cf*C +: C]; folds run column fold outer.
//
// Microarchitecture
//   * Step k of a fold puts A[m0+i][k] on the left edge of row i, delayed i cycles, and
//     B[k][n0+j] on the top edge of column j, delayed j cycles, so PE(i,j) does step k
//     in cycle s + k + i + j (s = the fold's start). Rows/columns outside M/N are fed zeros.
//   * Every PE has two accumulators (banks). A bank bit travels with the data from the left;
//     the PE accumulates into acc[bank] and shifts acc[~bank] down the column drain chain.
//     Each fold flips the bank, so a fold computes while the previous fold's results drain.
//   * The drain chain has two registers per PE (acc and d_out), so a result moves one row
//     down every 2 cycles while the bank flip moves 1 row per cycle: the R results of a column
//     leave the bottom in R consecutive cycles (row R-1 first, row 0 last) without colliding.
//     PE(i) must drain for i+1 cycles, so a fold slot lasts P = max(K, R) cycles; when K < R
//     the controller pads the slot with bubbles (valid = 0).
//   * After the last fold the controller flips the bank once more (flush) to drain it.
//   * Operand buffers are read combinationally (register files); a bottom collector per column
//     writes the in-range results into y_mem.
//
// Cycle count: cycle 0 is the cycle in which start is high; the last result is written at the
// end of cycle L; cycles = L + 1 = F*P + 2R + W, F = folds, W = the skew tail: the last fold's
// used columns, or C - row_folds*P if the full-width fold before a narrow last one ends later.
// (timing_formula.py)

module os_pe (
    input  wire               clk,
    input  wire               rst,
    input  wire signed [7:0]  a_in,       // from the left, with the fold tags
    input  wire               valid_in,   // a real step of the fold (not a bubble)
    input  wire               first_in,   // first step of a fold: restart the accumulator
    input  wire               bank_in,    // accumulator that accumulates; the other one drains
    input  wire signed [7:0]  b_in,       // from above
    input  wire signed [31:0] d_in,       // drain chain from above
    input  wire               dv_in,
    output reg  signed [7:0]  a_out,
    output reg                valid_out,
    output reg                first_out,
    output reg                bank_out,
    output reg  signed [7:0]  b_out,
    output reg  signed [31:0] d_out,
    output reg                dv_out
);
  reg signed [31:0] acc0, acc1;
  reg               v0, v1;  // the bank holds a finished (or accumulating) result
  wire signed [15:0] prod = a_in * b_in;

  always @(posedge clk) begin
    if (rst) begin
      a_out <= 0; valid_out <= 0; first_out <= 0; bank_out <= 0; b_out <= 0;
      d_out <= 0; dv_out <= 0; acc0 <= 0; acc1 <= 0; v0 <= 0; v1 <= 0;
    end else begin
      a_out <= a_in; valid_out <= valid_in; first_out <= first_in; bank_out <= bank_in;
      b_out <= b_in;
      if (bank_in == 1'b0) begin
        if (valid_in) begin
          acc0 <= (first_in ? 32'sd0 : acc0) + prod;
          v0   <= 1'b1;
        end
        d_out <= acc1; dv_out <= v1;   // bank 1 drains
        acc1  <= d_in; v1     <= dv_in;
      end else begin
        if (valid_in) begin
          acc1 <= (first_in ? 32'sd0 : acc1) + prod;
          v1   <= 1'b1;
        end
        d_out <= acc0; dv_out <= v0;   // bank 0 drains
        acc0  <= d_in; v0     <= dv_in;
      end
    end
  end
endmodule

module os_array #(
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
    output wire        y_we,  // a result is written into y_mem at the end of this cycle
    output reg         done
);
  reg signed [7:0]  a_mem [0:DEPTH-1];  // A[m][k] at m*K + k
  reg signed [7:0]  b_mem [0:DEPTH-1];  // B[k][n] at k*N + n
  reg signed [31:0] y_mem [0:DEPTH-1];  // Y[m][n] at m*N + n

  wire [15:0] row_folds = (M + R - 1) / R;
  wire [15:0] col_folds = (N + C - 1) / C;
  wire [15:0] P = (K > R) ? K : R;      // fold slot length

  // ---- controller: fold (rf, cf), step k of the slot, bank ----
  reg        busy;
  reg [15:0] k, rf, cf;
  reg        bank;
  wire       last_rf = (rf == row_folds - 1);
  wire       valid_now = busy && (k < K);
  wire       first_now = busy && (k == 0);
  wire [15:0] m0 = rf * R;
  wire [15:0] n0 = cf * C;

  always @(posedge clk) begin
    if (rst) begin
      busy <= 0; k <= 0; rf <= 0; cf <= 0; bank <= 0;
    end else if (start && !busy) begin
      busy <= 1; k <= 0; rf <= 0; cf <= 0;
      bank <= ~bank;                    // fold 0 gets a fresh bank
    end else if (busy && k == P - 1) begin
      k <= 0;
      bank <= ~bank;                    // next fold, or the final flush
      if (last_rf) begin
        rf <= 0;
        if (cf == col_folds - 1) busy <= 0;
        else cf <= cf + 1;
      end else begin
        rf <= rf + 1;
      end
    end else if (busy) begin
      k <= k + 1;
    end
  end

  // ---- array wiring: one net per PE port ----
  // horizontal nets, row i, between column j-1 and j: index i*(C+1) + j
  wire [7:0]  h_a     [0:R*(C+1)-1];
  wire        h_valid [0:R*(C+1)-1];
  wire        h_first [0:R*(C+1)-1];
  wire        h_bank [0:R*(C+1)-1];
  // vertical nets, column j, between row i-1 and i: index i*C + j
  wire [7:0]  v_b [0:(R+1)*C-1];
  wire [31:0] v_d [0:(R+1)*C-1];
  wire        v_dv [0:(R+1)*C-1];

  genvar i, j;
  generate
    // left edge: row i reads A[m0+i][k] now and enters i cycles later
    for (i = 0; i < R; i = i + 1) begin : g_left
      wire [31:0] m = m0 + i;
      wire signed [7:0] a = (valid_now && m < M) ? a_mem[m * K + k] : 8'sd0;
      delay_line #(.W(11), .D(i)) skew (
          .clk(clk), .rst(rst), .din({bank, first_now, valid_now, a}),
          .dout({h_bank[i*(C+1)], h_first[i*(C+1)], h_valid[i*(C+1)], h_a[i*(C+1)]}));
    end
    // top edge: column j reads B[k][n0+j] now and enters j cycles later; the drain chain starts empty
    for (j = 0; j < C; j = j + 1) begin : g_top
      wire [31:0] n = n0 + j;
      wire signed [7:0] b = (valid_now && n < N) ? b_mem[k * N + n] : 8'sd0;
      delay_line #(.W(8), .D(j)) skew (.clk(clk), .rst(rst), .din(b), .dout(v_b[j]));
      assign v_d[j] = 32'sd0;
      assign v_dv[j] = 1'b0;
    end
    for (i = 0; i < R; i = i + 1) begin : g_row
      for (j = 0; j < C; j = j + 1) begin : g_col
        os_pe pe (
            .clk(clk), .rst(rst),
            .a_in(h_a[i*(C+1)+j]), .valid_in(h_valid[i*(C+1)+j]),
            .first_in(h_first[i*(C+1)+j]), .bank_in(h_bank[i*(C+1)+j]),
            .b_in(v_b[i*C+j]), .d_in(v_d[i*C+j]), .dv_in(v_dv[i*C+j]),
            .a_out(h_a[i*(C+1)+j+1]), .valid_out(h_valid[i*(C+1)+j+1]),
            .first_out(h_first[i*(C+1)+j+1]), .bank_out(h_bank[i*(C+1)+j+1]),
            .b_out(v_b[(i+1)*C+j]), .d_out(v_d[(i+1)*C+j]),
            .dv_out(v_dv[(i+1)*C+j]));
      end
    end
  endgenerate

  // ---- bottom collectors: column j's results leave as bursts of R, row R-1 first ----
  wire [C-1:0] wr;                 // write this cycle
  wire [31:0]  wr_addr [0:C-1];
  generate
    for (j = 0; j < C; j = j + 1) begin : g_out
      wire        dv = v_dv[R*C+j];
      reg  [15:0] q, crf, ccf;  // position in the burst, fold of the burst
      wire [31:0] m = crf * R + (R - 1 - q);
      wire [31:0] n = ccf * C + j;
      assign wr[j] = dv && m < M && n < N;
      assign wr_addr[j] = m * N + n;
      always @(posedge clk) begin
        if (rst || (start && !busy)) begin
          q <= 0; crf <= 0; ccf <= 0;
        end else if (dv) begin
          if (q == R - 1) begin
            q <= 0;
            if (crf == row_folds - 1) begin crf <= 0; ccf <= ccf + 1; end
            else crf <= crf + 1;
          end else begin
            q <= q + 1;
          end
        end
      end
    end
  endgenerate

  assign y_we = |wr;

  reg [31:0] writes;
  integer c, nw;
  always @(posedge clk) begin
    if (rst || (start && !busy)) begin
      writes <= 0; done <= 0;
    end else begin
      nw = 0;
      for (c = 0; c < C; c = c + 1) begin
        if (wr[c]) begin
          y_mem[wr_addr[c]] <= v_d[R*C+c];
          nw = nw + 1;
        end
      end
      writes <= writes + nw;
      done <= (writes + nw == M * N);
    end
  end
endmodule
