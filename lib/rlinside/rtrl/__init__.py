"""RTRL learners for LSTM columns (Javed et al.)."""
