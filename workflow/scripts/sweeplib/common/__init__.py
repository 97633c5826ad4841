"""The ground floor every stage stands on: complete-or-absent writes (``atomic``); CSV
tables read back (``tables``); a job's log (``logs``); cache keys, the code behind
each result and where each result lives (``keys``); the model's sizes (``sizes``);
the sweep's axes, and its tables as curves (``series``); devices, this machine and
its memory (``devices``, ``env``, ``memory``); numbers and text as written
(``formatting``); what this Snakemake will do, and its locks (``invocation``,
``locks``).
"""
