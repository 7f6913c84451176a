#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
# The tcpaccept benchmark: builds the load generators, then runs bench/run.py
# (Debian's python3, standard library only). Needs root and ./tcpaccept
# (`make`). Options are passed on to run.py (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x ./tcpaccept ]; then
	echo "bench: ./tcpaccept is missing; run make first" >&2
	exit 1
fi
mkdir -p .output/bench
if [ ! -x .output/bench/flood ] || [ bench/flood.c -nt .output/bench/flood ]; then
	echo "  CC       .output/bench/flood"
	${CC:-cc} -O2 -Wall -Wextra -Werror -static -pthread -o .output/bench/flood bench/flood.c
fi
if [ ! -x .output/bench/acceptloop ] || [ bench/acceptloop.c -nt .output/bench/acceptloop ]; then
	echo "  CC       .output/bench/acceptloop"
	${CC:-cc} -O2 -Wall -Wextra -Werror -static -o .output/bench/acceptloop bench/acceptloop.c
fi
if [ ! -x .output/bench/syscalltax ] || [ bench/syscalltax.c -nt .output/bench/syscalltax ]; then
	echo "  CC       .output/bench/syscalltax"
	${CC:-cc} -O2 -Wall -Wextra -Werror -static -o .output/bench/syscalltax bench/syscalltax.c
fi
if [ ! -x .output/bench/synflood ] || [ bench/synflood.c -nt .output/bench/synflood ]; then
	echo "  CC       .output/bench/synflood"
	${CC:-cc} -O2 -Wall -Wextra -Werror -static -o .output/bench/synflood bench/synflood.c
fi
if [ ! -x .output/bench/rowcost ] || [ bench/rowcost.c -nt .output/bench/rowcost ] ||
	[ format.c -nt .output/bench/rowcost ]; then
	echo "  CC       .output/bench/rowcost"
	${CC:-cc} -O2 -Wall -Wextra -Werror -I. -o .output/bench/rowcost bench/rowcost.c format.c
fi
# The start-up floor (bench/floorload.c) needs the BPF tool chain: make builds it.
make --no-print-directory -s .output/bench/floorload
if ! mountpoint -q /sys/kernel/tracing; then
	mount -t tracefs tracefs /sys/kernel/tracing
fi
exec /usr/bin/python3 bench/run.py "$@"
