/* Test support: child processes and loopback ports. */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

pid_t rsp_test_spawn(char *const argv[], const char *log_path) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    rsp_test_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    if (log_path) {
      int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
    }
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  return pid;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int rsp_test_stop(pid_t pid, int sig) {
  int status = 0;
  if (pid <= 0) return -1;
  kill(pid, sig);
  for (int i = 0; i < 1000; i++) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

/* The kernel hands out ports of ip_local_port_range to every outgoing connection (and to bind on
 * port 0), so a port picked there can be taken by any client of a test running in parallel before
 * the server under test binds it. Test ports come from below that range instead, at random. */
static void ephemeral_range(unsigned *lo, unsigned *hi) {
  *lo = 32768;
  *hi = 60999;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f) {
    unsigned a, b;
    if (fscanf(f, "%u %u", &a, &b) == 2 && a <= b && b <= 65535) {
      *lo = a;
      *hi = b;
    }
    fclose(f);
  }
}

static bool port_bindable(unsigned port, int *fd_out) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return false;
  }
  *fd_out = fd;
  return true;
}

unsigned rsp_test_free_ports(unsigned n) {
  static unsigned seed;
  unsigned lo, hi, first = 10000, last;
  ephemeral_range(&lo, &hi);
  if (lo >= first + 1000 + n) {
    last = lo - n; /* below the ephemeral range */
  } else {
    first = hi + 1; /* the range starts low: use what lies above it */
    last = 65535 - n;
  }
  if (n == 0 || n > 64 || first >= last) {
    rsp_test_fail(__FILE__, __LINE__, "no range for %u test ports", n);
    return 0;
  }
  if (!seed) seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
  for (int attempt = 0; attempt < 500; attempt++) {
    seed = seed * 1103515245u + 12345u;
    unsigned base = first + (seed >> 8) % (last - first);
    int fds[64];
    unsigned held = 0;
    while (held < n && port_bindable(base + held, &fds[held])) held++;
    for (unsigned i = 0; i < held; i++) close(fds[i]);
    if (held == n) return base;
  }
  rsp_test_fail(__FILE__, __LINE__, "no %u free consecutive ports on 127.0.0.1", n);
  return 0;
}

unsigned rsp_test_free_port(void) { return rsp_test_free_ports(1); }

bool rsp_test_wait_port(unsigned port, int timeout_ms) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int t = 0; t <= timeout_ms; t += 20) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (ok) return true;
    sleep_ms(20);
  }
  return false;
}

void rsp_test_show_log(const char *dir, const char *name) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "tail -n 40 '%s/%s' >&2", dir, name);
  if (system(cmd) != 0) fprintf(stderr, "(no log %s/%s)\n", dir, name);
}

int rsp_test_log_count(const char *dir, const char *name, const char *needle) {
  char cmd[1600], line[32] = "";
  snprintf(cmd, sizeof cmd, "grep -c -- '%s' '%s/%s' 2>/dev/null", needle, dir, name);
  FILE *f = popen(cmd, "r");
  if (f && !fgets(line, sizeof line, f)) line[0] = '\0';
  if (f) pclose(f);
  return atoi(line);
}
