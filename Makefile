.PHONY: test test-fast lint demo bench

# Install what a fresh Debian 12 machine lacks, lint, type-check, run the whole suite on every CPU
# (a test file's tests stay on one worker, so its registry and images are made once), and name
# the slowest tests, so a CI log shows where the suite's time goes.
test: lint
	python3 -m pytest -n auto --dist loadfile --durations=15

# The loop to run while editing: everything but the image builds, the chroot apt runs and the
# package-manager oracles, a tenth of the property examples. One worker more than CPUs (it runs
# while another waits on a timeout), each test file on one worker (its module fixtures, registry
# pushes included, are made once; the suite computes far more than it waits, and every further
# worker adds its start, collection and registries), and bytecode kept even where
# PYTHONDONTWRITEBYTECODE is set, so no worker rewrites every test's asserts again. What rpmbuild,
# createrepo_c, dnf, repo-add and openssl make, and what dash and busybox sh -n say of a script,
# is kept in $PINNER_TEST_CACHE (else ~/.cache/pinner-tests), so only the first run pays for it.
test-fast:
	env -u PYTHONDONTWRITEBYTECODE python3 -m pytest -q -n $$(( $$(nproc) + 1 )) --dist loadfile \
		-m "not slow and not chroot and not oracle" --hypothesis-profile=fast

lint:
	scripts/install-test-deps
	ruff check .
	ruff format --check pinner tests benchmarks
	mypy

# Pin examples/Dockerfile against a local stand-in for Docker Hub (see demo/run).
demo:
	demo/run

# Time pinner lock, check and update (default and --images-only) over 1,000 Dockerfiles
# behind a 50 ms registry, lock/check/update over 10,000 Dockerfiles and 2,000 tags (time and
# peak RSS), pinner against Renovate, parsing a 100,000-line Dockerfile, and the start of
# `pinner --version` and `--help`; see benchmarks/README.md.
bench:
	python3 benchmarks/bench_lock.py --repeat 3
	python3 benchmarks/bench_lock.py --files 10000 --tags 2000 --repeat 1 --mode default --no-baseline
	python3 benchmarks/bench_peers.py --pairs 3
	python3 benchmarks/bench_parse.py --repeat 3
	python3 benchmarks/bench_startup.py --repeat 9
