// floor.c: the smallest user-space reader of UDP datagrams on Linux, the
// floor for any reader's CPU per packet. It binds 127.0.0.1:PORT (0 = a
// free port), asks for a receive buffer of RCVBUF bytes (SO_RCVBUFFORCE,
// else SO_RCVBUF), prints "ready PORT", then counts datagrams with
// recvmmsg batches of 64 (MSG_WAITFORONE) without looking at them. When its
// standard input reaches end of file and the socket has been idle for 50 ms,
// it prints one JSON line with its counts and its own getrusage(RUSAGE_SELF)
// delta since "ready", and exits.
//
// With TICK_US > 0 it sleeps TICK_US microseconds after every batch that was
// not full (the socket was drained), as reuseport's WaitTick does, so that
// the next recvmmsg finds a full batch: the floor of that way of waiting.
//
// Build: gcc -O2 -o floor floor.c      Run: ./floor RCVBUF [PORT [TICK_US]]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MSGSIZE 2048

static long long tv_ns(struct timeval tv) { return (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL; }

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: floor RCVBUF [PORT [TICK_US]]\n");
		return 2;
	}
	int rcvbuf = atoi(argv[1]);
	int port = argc > 2 ? atoi(argv[2]) : 0;
	long tick_us = argc > 3 ? atol(argv[3]) : 0;
	struct timespec tick = {.tv_sec = tick_us / 1000000, .tv_nsec = (tick_us % 1000000) * 1000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); // best effort: capped by rmem_max
	struct timeval to = {.tv_sec = 0, .tv_usec = 50000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		return 1;
	}
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);

	static char bufs[BATCH][MSGSIZE];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MSGSIZE;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready %d\n", ntohs(sa.sin_port));
	fflush(stdout);

	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	unsigned long long packets = 0, bytes = 0, calls = 0;
	for (;;) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n > 0) {
			calls++;
			packets += n;
			for (int i = 0; i < n; i++)
				bytes += msgs[i].msg_len;
			if (tick_us > 0 && n < BATCH)
				nanosleep(&tick, NULL);
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			perror("recvmmsg");
			return 1;
		}
		// Idle for 50 ms: stop if the harness closed our stdin.
		char c[64];
		ssize_t k = read(0, c, sizeof c);
		if (k == 0)
			break;
	}
	getrusage(RUSAGE_SELF, &r1);
	printf("{\"packets\":%llu,\"bytes\":%llu,\"reads\":%llu,\"utime_ns\":%lld,\"stime_ns\":%lld,\"maxrss_kb\":%ld}\n",
	       packets, bytes, calls, tv_ns(r1.ru_utime) - tv_ns(r0.ru_utime), tv_ns(r1.ru_stime) - tv_ns(r0.ru_stime),
	       r1.ru_maxrss);
	return 0;
}
