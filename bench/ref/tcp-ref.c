/*
 * Linux's own TCP on loopback, the reference for bench/tcp.bench.ts.
 * Client and server are two processes (fork), each a plain blocking-socket
 * loop, so this measures the kernel plus syscalls, not a runtime.
 *
 *   tcp-ref tput <bytes> <mss|0>     single-stream throughput; prints seconds
 *   tcp-ref cps <count>              connect, 100-byte request, 100-byte reply, server closes,
 *                                    client reads to EOF and closes
 *   tcp-ref pingpong <count>         1-byte ping-pong round trips
 *
 * Prints one line: "<mode> <count> <wall seconds> <cpu seconds>" (cpu: user +
 * system of both processes, from getrusage). Everything stays on 127.0.0.1;
 * every loop is bounded by its count.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *m) {
  perror(m);
  exit(1);
}

static int listener(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(s, 4096) < 0) die("listen");
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  *port = ntohs(a.sin_port);
  return s;
}

static int dial(int port, int mss, int nodelay) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (mss > 0) setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
  if (nodelay) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  return s;
}

static int readn(int s, char *b, int n) {
  int got = 0;
  while (got < n) {
    int r = read(s, b + got, n - got);
    if (r <= 0) return got;
    got += r;
  }
  return got;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: tcp-ref tput|cps|pingpong N [mss]\n");
    return 2;
  }
  const char *mode = argv[1];
  long long n = atoll(argv[2]);
  int mss = argc > 3 ? atoi(argv[3]) : 0;
  int port;
  int ls = listener(&port);
  if (mss > 0) setsockopt(ls, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
  signal(SIGPIPE, SIG_IGN);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  static char buf[1 << 16];
  if (pid == 0) {
    alarm(120); /* bounded in time whatever happens */
    if (!strcmp(mode, "tput")) {
      int c = accept(ls, 0, 0);
      long long total = 0;
      for (;;) {
        int r = read(c, buf, sizeof buf);
        if (r <= 0) break;
        total += r;
      }
      char ok = total == n ? 1 : 0;
      write(c, &ok, 1);
      close(c);
    } else if (!strcmp(mode, "cps")) {
      for (long long i = 0; i < n; i++) {
        int c = accept(ls, 0, 0);
        if (readn(c, buf, 100) != 100) die("server read");
        write(c, buf, 100);
        close(c);
      }
    } else {
      int c = accept(ls, 0, 0);
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      for (long long i = 0; i < n; i++) {
        if (read(c, buf, 1) != 1) break;
        write(c, buf, 1);
      }
      close(c);
    }
    _exit(0);
  }
  close(ls);
  memset(buf, 'x', sizeof buf);
  double t0 = now(), t1;
  if (!strcmp(mode, "tput")) {
    int s = dial(port, mss, 0);
    long long left = n;
    while (left > 0) {
      int w = write(s, buf, left < (long long)sizeof buf ? (int)left : (int)sizeof buf);
      if (w <= 0) die("write");
      left -= w;
    }
    shutdown(s, SHUT_WR);
    char ok = 0;
    if (read(s, &ok, 1) != 1 || !ok) die("short transfer");
    t1 = now();
    close(s);
  } else if (!strcmp(mode, "cps")) {
    for (long long i = 0; i < n; i++) {
      int s = dial(port, 0, 1);
      write(s, buf, 100);
      if (readn(s, buf, 100) != 100) die("client read");
      /* read to end of stream: the server closes first and keeps the TIME_WAIT */
      while (read(s, buf, sizeof buf) > 0) {
      }
      close(s);
    }
    t1 = now();
  } else {
    int s = dial(port, 0, 1);
    for (long long i = 0; i < n; i++) {
      write(s, buf, 1);
      if (read(s, buf, 1) != 1) die("pong");
    }
    t1 = now();
    close(s);
  }
  waitpid(pid, 0, 0);
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  double cpu = self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6 +
               kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 + kids.ru_stime.tv_sec + kids.ru_stime.tv_usec / 1e6;
  printf("%s %lld %.6f %.6f\n", mode, n, t1 - t0, cpu);
  return 0;
}
