.output-ren/format.o: format.c format.h tcpaccept.h
format.h:
tcpaccept.h:
