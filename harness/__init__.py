"""Real parts started for the tests and the benchmarks alike: example halls and their configs,
servers in-process and as processes, an Xvfb display, a TCP receipt printer, queueing theory's
answers. A tool (it may import anything of ours), never a test: tests and benchmarks import it,
it imports neither."""
