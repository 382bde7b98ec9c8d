"""Benchmarks and the contact-center day simulator (``python -m bench``)."""
