.output-ren/catchup.o: catchup.c catchup.h ways.h args.h tcpaccept.h \
 tracefs.h log.h .output-ren/tcpaccept.skel.h blocked_threads.h
catchup.h:
ways.h:
args.h:
tcpaccept.h:
tracefs.h:
log.h:
.output-ren/tcpaccept.skel.h:
blocked_threads.h:
