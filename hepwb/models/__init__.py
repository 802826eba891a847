"""Keras model builders and their training/saving helpers (taggers now; GAN and autoencoders later)."""
