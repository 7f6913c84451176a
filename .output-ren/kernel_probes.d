.output-ren/kernel_probes.o: kernel_probes.c kernel_probes.h tracefs.h
kernel_probes.h:
tracefs.h:
