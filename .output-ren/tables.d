.output-ren/tables.o: tables.c clocks.h log.h output.h tables.h args.h \
 tcpaccept.h format.h metrics.h .output-ren/tcpaccept.skel.h version.h
clocks.h:
log.h:
output.h:
tables.h:
args.h:
tcpaccept.h:
format.h:
metrics.h:
.output-ren/tcpaccept.skel.h:
version.h:
