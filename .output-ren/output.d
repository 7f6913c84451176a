.output-ren/output.o: output.c format.h tcpaccept.h log.h output.h
format.h:
tcpaccept.h:
log.h:
output.h:
