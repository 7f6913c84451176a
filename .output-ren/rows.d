.output-ren/rows.o: rows.c clocks.h log.h output.h rows.h args.h \
 tcpaccept.h format.h .output-ren/tcpaccept.skel.h
clocks.h:
log.h:
output.h:
rows.h:
args.h:
tcpaccept.h:
format.h:
.output-ren/tcpaccept.skel.h:
