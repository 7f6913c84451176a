.output-ren/tcpaccept.o: tcpaccept.c args.h tcpaccept.h capabilities.h \
 catchup.h ways.h tracefs.h cgroup.h clocks.h kernel_probes.h log.h \
 output.h plan.h process.h rows.h format.h tables.h metrics.h \
 .output-ren/tcpaccept.skel.h
args.h:
tcpaccept.h:
capabilities.h:
catchup.h:
ways.h:
tracefs.h:
cgroup.h:
clocks.h:
kernel_probes.h:
log.h:
output.h:
plan.h:
process.h:
rows.h:
format.h:
tables.h:
metrics.h:
.output-ren/tcpaccept.skel.h:
