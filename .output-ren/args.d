.output-ren/args.o: args.c args.h tcpaccept.h version.h
args.h:
tcpaccept.h:
version.h:
