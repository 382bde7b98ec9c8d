"""Local servers the tests and the benchmarks run the product against: PostgreSQL and nginx."""
