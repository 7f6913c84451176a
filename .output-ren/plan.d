.output-ren/plan.o: plan.c kernel_probes.h plan.h args.h tcpaccept.h \
 .output-ren/tcpaccept.skel.h ways.h tracefs.h
kernel_probes.h:
plan.h:
args.h:
tcpaccept.h:
.output-ren/tcpaccept.skel.h:
ways.h:
tracefs.h:
