.output-ren/metrics.o: metrics.c format.h tcpaccept.h log.h metrics.h
format.h:
tcpaccept.h:
log.h:
metrics.h:
