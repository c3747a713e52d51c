/*
 * uring_client: an HTTP request sent through io_uring (IORING_OP_SEND),
 * not through send(2): the name check must see it all the same
 * (test_names.cpp). The connect is an ordinary connect(2).
 *
 *   uring_client ADDR PORT HOST
 *
 * Prints "ok <answer>" and exits 0, or "refused <error>" and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One operation through the ring: its result (bytes, or -errno). */
static int ring_io(struct io_uring* ring, int fd, void* buf, size_t len, int send) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
  struct io_uring_cqe* cqe;
  int res;

  if (send)
    io_uring_prep_send(sqe, fd, buf, len, 0);
  else
    io_uring_prep_recv(sqe, fd, buf, len, 0);
  io_uring_submit(ring);
  if (io_uring_wait_cqe(ring, &cqe) < 0) return -1;
  res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

int main(int argc, char** argv) {
  struct sockaddr_in to = {.sin_family = AF_INET};
  struct io_uring ring;
  char request[512], answer[512];
  int fd, res, total = 0;

  if (argc != 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  to.sin_port = htons((unsigned short)atoi(argv[2]));
  res = io_uring_queue_init(4, &ring, 0);
  if (res < 0) {
    printf("refused io_uring_queue_init: %s\n", strerror(-res));
    return 1;
  }
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&to, sizeof(to)) != 0) {
    printf("refused connect: %s\n", strerror(errno));
    return 1;
  }
  snprintf(request, sizeof(request), "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", argv[3]);
  res = ring_io(&ring, fd, request, strlen(request), 1);
  if (res < 0) {
    printf("refused send: %s\n", strerror(-res));
    return 1;
  }
  while (total < (int)sizeof(answer) - 1) {
    res = ring_io(&ring, fd, answer + total, sizeof(answer) - 1 - (size_t)total, 0);
    if (res <= 0) break;
    total += res;
    answer[total] = 0;
    if (strstr(answer, "hello")) /* the server's whole answer: it may keep the connection */
      break;
  }
  answer[total] = 0;
  for (char* p = answer; *p; ++p)
    if (*p == '\r' || *p == '\n') *p = ' ';
  printf("%s %s\n", total > 0 ? "ok" : "refused", total > 0 ? answer : "no answer");
  return total > 0 ? 0 : 1;
}
