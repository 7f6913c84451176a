.output-ren/blocked_threads.o: blocked_threads.c blocked_threads.h
blocked_threads.h:
