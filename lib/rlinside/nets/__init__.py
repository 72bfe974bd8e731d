"""Torch modules shared by the chapters."""
