"""Benchmarks that run each workload on flowstone and, when installed, on TensorFlow."""
