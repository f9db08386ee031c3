# `make bench` and `make bench-quick`: performance side by side with the
# tools users would pick instead (e2e/bench/README.md). Included by the
# top-level Makefile. Missing tools are installed (apt-get, go install).
#
#   make bench        full corpora, 3 runs per measurement (about 6 minutes
#                     for the layer section and 3 for the bazel section on a
#                     2-core machine)
#   make bench-quick  1/10 corpora, one run (under 2 minutes)
#   make bench BENCH_FLAGS='--sections layer --runs 5'

BENCH_FLAGS ?=

bench:
	$(GO) run ./e2e/bench --results e2e/bench/results.md $(BENCH_FLAGS)

bench-quick:
	$(GO) run ./e2e/bench --quick --results e2e/bench/results-quick.md $(BENCH_FLAGS)
