"""The plan, made while Snakemake reads the workflow (``on_parse``): the config checked
(``config``); its runs, typed and keyed (``runspec``, ``schedule``, ``sweep``, which
also names the rules behind each kind of result, and so their scripts); what they
need of the disk, a cluster and the devices (``disk``, ``cluster``, ``probe``);
other machines' folders (``brought_in``, ``machines``); the plan files
(``plan_files``); refinement's rules (``refine``).
"""
