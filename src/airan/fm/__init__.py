"""Wireless foundation model (L0): CSI tokenizer, masked-autoencoder transformer backbone, masking
strategies, pretraining loop and checkpoints."""
