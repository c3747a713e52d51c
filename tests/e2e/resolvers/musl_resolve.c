/*
 * getaddrinfo through musl's resolver, linked statically: musl sends its
 * queries as unconnected UDP to every nameserver at once and takes only an
 * answer whose source is one of them, the case the recvmsg hooks exist for.
 * Prints each address on a line; exit 0 when there was one, 1 when none.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  struct addrinfo hints, *list, *ai;
  char text[INET6_ADDRSTRLEN];
  int err;

  if (argc != 2) {
    fprintf(stderr, "usage: musl_resolve NAME\n");
    return 2;
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  err = getaddrinfo(argv[1], NULL, &hints, &list);
  if (err != 0) {
    fprintf(stderr, "musl_resolve %s: %s\n", argv[1], gai_strerror(err));
    return 1;
  }
  for (ai = list; ai; ai = ai->ai_next) {
    const void* addr = ai->ai_family == AF_INET ? (const void*)&((struct sockaddr_in*)ai->ai_addr)->sin_addr
                                                : (const void*)&((struct sockaddr_in6*)ai->ai_addr)->sin6_addr;
    printf("%s\n", inet_ntop(ai->ai_family, addr, text, sizeof(text)));
  }
  freeaddrinfo(list);
  return 0;
}
