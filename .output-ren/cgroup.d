.output-ren/cgroup.o: cgroup.c cgroup.h log.h
cgroup.h:
log.h:
