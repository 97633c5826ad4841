"""What was measured, analysed: every machine's rows gathered and checked (``gather``);
paired ratios (``speedup``); the crossover (``crossover``); the crossover against
the series axes (``frontier``); the cost model (``costmodel``); the clocks compared
(``clocks``); all of it per machine (``analysis``); one refinement pass from it
(``refine_pass``).
"""
