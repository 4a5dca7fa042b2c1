"""vidgen_rt: a real-time, interactive, autoregressive video generator (a neural game engine).

The Python package holds the built-in worlds, the data pipeline, the frame-causal world model, its
training and evaluation, and the command-line interface `vidgen`.
"""

__version__ = "0.1.0"
