"""`python -m bench [NAME…] [--quick]`: the benchmarks (`make bench`); not part of the installed product."""

from bench.runner import main

main()
