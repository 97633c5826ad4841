"""The jobs that measure (most of these modules import torch): a scale's timing
processes (``processes``); each one's entry and work (``worker``, ``training``,
``timing``); the model, its data and checkpoints (``model``, ``data``,
``checkpoint``); the inference check (``inference``); the hardware probes
(``hardware``); the post's toy example (``toy``).
"""
