// reflect.c: the smallest user-space GWLB reflector on Linux, the floor for
// dxappliance's CPU per packet returned. It binds 127.0.0.1:0 with
// IP_PKTINFO, asks for a receive buffer of RCVBUF bytes (SO_RCVBUFFORCE,
// else SO_RCVBUF), prints "ready PORT", then receives datagrams with
// recvmmsg batches of 64 (MSG_WAITFORONE) and returns each, unchecked, as
// dxappliance does: through a raw socket (IPPROTO_RAW, needs CAP_NET_RAW)
// from the address it came to and the sender's port, to the sender's address
// and PORT, the payload sent from the receive buffer behind a 28-byte
// IPv4+UDP header (two iovecs), one sendmmsg per batch. When its standard
// input reaches end of file and the socket has been idle for 50 ms, it
// prints one JSON line with its counts and its own getrusage(RUSAGE_SELF)
// delta since "ready", and exits.
//
// With TICK_US > 0 it sleeps TICK_US microseconds after every batch that was
// not full, as reuseport's WaitTick does.
//
// Build: gcc -O2 -o reflect reflect.c      Run: ./reflect RCVBUF [TICK_US]
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
#define MSGSIZE 9216
#define HDR 28

static long long tv_ns(struct timeval tv) { return (long long)tv.tv_sec * 1000000000LL + (long long)tv.tv_usec * 1000LL; }

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: reflect RCVBUF [TICK_US]\n");
		return 2;
	}
	int rcvbuf = atoi(argv[1]);
	long tick_us = argc > 2 ? atol(argv[2]) : 0;
	struct timespec tick = {.tv_sec = tick_us / 1000000, .tv_nsec = (tick_us % 1000000) * 1000};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || raw < 0) {
		perror("socket");
		return 1;
	}
	int one = 1, sndbuf = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(raw, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	struct timeval to = {.tv_sec = 0, .tv_usec = 50000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		return 1;
	}
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	unsigned short port = sa.sin_port; // network order
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);

	static char bufs[BATCH][MSGSIZE];
	static char ctrl[BATCH][64];
	static struct sockaddr_in from[BATCH], to4[BATCH];
	static unsigned char hdrs[BATCH][HDR];
	static struct iovec iov[BATCH], oiov[BATCH][2];
	static struct mmsghdr msgs[BATCH], out[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MSGSIZE;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		oiov[i][0].iov_base = hdrs[i];
		oiov[i][0].iov_len = HDR;
		oiov[i][1].iov_base = bufs[i];
		out[i].msg_hdr.msg_iov = oiov[i];
		out[i].msg_hdr.msg_iovlen = 2;
		out[i].msg_hdr.msg_name = &to4[i];
		out[i].msg_hdr.msg_namelen = sizeof to4[i];
	}
	printf("ready %d\n", ntohs(port));
	fflush(stdout);

	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	unsigned long long packets = 0, bytes = 0, calls = 0, returned = 0, errors = 0;
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			msgs[i].msg_hdr.msg_namelen = sizeof from[i];
			msgs[i].msg_hdr.msg_control = ctrl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n > 0) {
			calls++;
			packets += n;
			int k = 0;
			for (int i = 0; i < n; i++) {
				bytes += msgs[i].msg_len;
				struct in_addr local = {0};
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
					if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
						local = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr;
				unsigned char *h = hdrs[k];
				unsigned len = msgs[i].msg_len;
				memset(h, 0, HDR);
				h[0] = 0x45;
				h[2] = (HDR + len) >> 8, h[3] = (HDR + len) & 0xff;
				h[8] = 64, h[9] = IPPROTO_UDP;
				memcpy(h + 12, &local, 4);
				memcpy(h + 16, &from[i].sin_addr, 4);
				memcpy(h + 20, &from[i].sin_port, 2);
				memcpy(h + 22, &port, 2);
				h[24] = (8 + len) >> 8, h[25] = (8 + len) & 0xff;
				oiov[k][1].iov_base = bufs[i];
				oiov[k][1].iov_len = len;
				to4[k].sin_family = AF_INET;
				to4[k].sin_addr = from[i].sin_addr;
				k++;
			}
			for (int off = 0; off < k;) {
				int s = sendmmsg(raw, out + off, k - off, 0);
				if (s < 0) {
					if (errno == EINTR)
						continue;
					errors++;
					off++;
					continue;
				}
				returned += s;
				off += s;
			}
			if (tick_us > 0 && n < BATCH)
				nanosleep(&tick, NULL);
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			perror("recvmmsg");
			return 1;
		}
		char c[64];
		ssize_t r = read(0, c, sizeof c);
		if (r == 0)
			break;
	}
	getrusage(RUSAGE_SELF, &r1);
	printf("{\"packets\":%llu,\"bytes\":%llu,\"reads\":%llu,\"returned\":%llu,\"send_errors\":%llu,\"utime_ns\":%lld,\"stime_ns\":%lld,\"maxrss_kb\":%ld}\n",
	       packets, bytes, calls, returned, errors, tv_ns(r1.ru_utime) - tv_ns(r0.ru_utime), tv_ns(r1.ru_stime) - tv_ns(r0.ru_stime),
	       r1.ru_maxrss);
	return 0;
}
