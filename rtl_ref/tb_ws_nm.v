// Testbench of ws_nm_array: reads a.hex (A, M x K, row-major int8), bv.hex and bi.hex (the
// compressed N:4 B: S x N values and 2-bit indices, S = KEEP*ceil(K/4)) from the working
// directory, runs one GEMM, writes y.txt: "cycles <count>" then Y row-major, one signed
// decimal per line.
// Sizes come from plusargs: vvp sim +M=.. +N=.. +K=.. +KEEP=..
module tb_ws_nm;
  parameter R = 4;
  parameter C = 4;
  parameter DEPTH = 4096;
  parameter MAX_CYCLES = 200000;

  reg clk = 0, rst = 1, start = 0;
  reg [15:0] M, N, K, KEEP;
  wire y_we, done;
  integer m_i, n_i, k_i, keep_i, s_i, cyc, last_write, fd, e;

  ws_nm_array #(.R(R), .C(C), .DEPTH(DEPTH)) dut (
      .clk(clk), .rst(rst), .start(start), .M(M), .N(N), .K(K), .KEEP(KEEP), .y_we(y_we), .done(done));

  always #5 clk = ~clk;

  initial begin
    if (!$value$plusargs("M=%d", m_i) || !$value$plusargs("N=%d", n_i) ||
        !$value$plusargs("K=%d", k_i) || !$value$plusargs("KEEP=%d", keep_i)) begin
      $display("ERROR: need +M= +N= +K= +KEEP="); $finish;
    end
    if (keep_i < 1 || keep_i > 4) begin
      $display("ERROR: KEEP must be 1 .. 4"); $finish;
    end
    s_i = keep_i * ((k_i + 3) / 4);
    if (m_i * k_i > DEPTH || s_i * n_i > DEPTH || m_i * n_i > DEPTH) begin
      $display("ERROR: operands larger than DEPTH=%0d", DEPTH); $finish;
    end
    M = m_i; N = n_i; K = k_i; KEEP = keep_i;
    $readmemh("a.hex", dut.a_mem, 0, m_i * k_i - 1);
    $readmemh("bv.hex", dut.bv_mem, 0, s_i * n_i - 1);
    $readmemh("bi.hex", dut.bi_mem, 0, s_i * n_i - 1);

    // Stimulus and sampling at negedges: what is seen there is what the next posedge acts on.
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
