.output-ren/process.o: process.c log.h process.h
log.h:
process.h:
