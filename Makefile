.PHONY: demo bench

# Pin examples/Dockerfile against a local stand-in for Docker Hub (see demo/run).
demo:
	demo/run

# Time pinner lock and check over 1,000 Dockerfiles behind a 50 ms registry.
bench:
	python3 benchmarks/bench_lock.py
