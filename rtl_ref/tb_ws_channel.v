// Testbench of ws_channel_array: reads a.hex (A, M x K, row-major int8), bv.hex and bi.hex (the
// compressed channel-sparse B: S x N values and channel-in-block indices), rbase.hex and rlen.hex
// (the row table, S entries of 16 bits) from the working directory, runs one GEMM, writes y.txt:
// "cycles <count>" then Y row-major. Sizes come from plusargs: vvp sim +M=.. +N=.. +K=.. +S=..
module tb_ws_channel;
  parameter R = 4;
  parameter C = 4;
  parameter BW = 8;
  parameter IW = 3;
  parameter DEPTH = 4096;
  parameter MAX_CYCLES = 200000;

  reg clk = 0, rst = 1, start = 0;
  reg [15:0] M, N, K, S;
  wire y_we, done;
  integer m_i, n_i, k_i, s_i, cyc, last_write, fd, e;

  ws_channel_array #(.R(R), .C(C), .BW(BW), .IW(IW), .DEPTH(DEPTH)) dut (
      .clk(clk), .rst(rst), .start(start), .M(M), .N(N), .K(K), .S(S),
      .y_we(y_we), .done(done));

  always #5 clk = ~clk;

  initial begin
    if (!$value$plusargs("M=%d", m_i) || !$value$plusargs("N=%d", n_i) ||
        !$value$plusargs("K=%d", k_i) || !$value$plusargs("S=%d", s_i)) begin
      $display("ERROR: need +M= +N= +K= +S="); $finish;
    end
    if (m_i * k_i > DEPTH || s_i * n_i > DEPTH || m_i * n_i > DEPTH) begin
      $display("ERROR: operands larger than DEPTH=%0d", DEPTH); $finish;
    end
    M = m_i; N = n_i; K = k_i; S = s_i;
    $readmemh("a.hex", dut.a_mem, 0, m_i * k_i - 1);
    $readmemh("bv.hex", dut.bv_mem, 0, s_i * n_i - 1);
    $readmemh("bi.hex", dut.bi_mem, 0, s_i * n_i - 1);
    $readmemh("rbase.hex", dut.rbase_mem, 0, s_i - 1);
    $readmemh("rlen.hex", dut.rlen_mem, 0, s_i - 1);

    repeat (3) @(negedge clk);
    rst = 0;
    @(negedge clk);
    start = 1; cyc = 0; last_write = -1;  // cycle 0: start is high
    while (!done && cyc < MAX_CYCLES) begin
      if (y_we) last_write = cyc;
      @(negedge clk);
      start = 0; cyc = cyc + 1;
    end
    if (!done) begin
      $display("ERROR: timeout after %0d cycles", cyc); $finish;
    end

    fd = $fopen("y.txt", "w");
    $fdisplay(fd, "cycles %0d", last_write + 1);
    for (e = 0; e < m_i * n_i; e = e + 1) $fdisplay(fd, "%0d", dut.y_mem[e]);
    $fclose(fd);
    $finish;
  end
endmodule
