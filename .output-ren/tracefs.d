.output-ren/tracefs.o: tracefs.c tracefs.h
tracefs.h:
