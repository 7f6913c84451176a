.output-ren/ways.o: ways.c log.h tcpaccept.h .output-ren/tcpaccept.skel.h \
 kernel_probes.h tracefs.h ways.h args.h
log.h:
tcpaccept.h:
.output-ren/tcpaccept.skel.h:
kernel_probes.h:
tracefs.h:
ways.h:
args.h:
