"""airan: an AI-native 6G radio access network platform.

Layers (imports go downward only): core <- twin <- data <- fm <- edge <- federated/apps/agents <- service/cli.
"""

__version__ = "0.1.0"
