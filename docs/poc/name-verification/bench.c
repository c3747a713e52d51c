// bench ADDR PORT N SIZE: connect, send a verified first message (an HTTP
// request for good.example.test), then N sends of SIZE bytes; prints ns/send.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	long n = atol(argv[3]), size = atol(argv[4]), i;
	const char *first = "GET / HTTP/1.1\r\nHost: good.example.test\r\n\r\n";
	char *buf = calloc(1, size);
	struct timespec t0, t1;
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if (getenv("NODELAY")) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (void *)&a, sizeof(a)) || send(s, first, strlen(first), 0) < 0) { perror("first"); return 1; }
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		if (send(s, buf, size, 0) != size) { perror("send"); return 1; }
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
	return 0;
}
