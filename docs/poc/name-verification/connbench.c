// connbench ADDR PORT N: N times connect, send the verified first message
// (an HTTP request for good.example.test), close; prints us/connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
	const char *first = "GET / HTTP/1.1\r\nHost: good.example.test\r\nUser-Agent: bench\r\n\r\n";
	long n = atol(argv[3]), i;
	struct timespec t0, t1;
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (void *)&a, sizeof(a)) || send(s, first, strlen(first), 0) < 0) { perror("conn"); return 1; }
		close(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n / 1000);
	return 0;
}
