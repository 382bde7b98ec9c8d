"""Callbacks: a caller's place in line kept while they hang up, and the rq jobs that call them back."""
