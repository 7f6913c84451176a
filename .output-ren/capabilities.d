.output-ren/capabilities.o: capabilities.c capabilities.h
capabilities.h:
