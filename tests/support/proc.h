/* Test support: child processes for integration tests (the programs under test, started on
 * 127.0.0.1 only). */
#ifndef RSP_TEST_PROC_H
#define RSP_TEST_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* Starts argv[0] with argv (NULL-terminated); stdout and stderr go to `log_path` (appended) when
 * given, else they are inherited. Returns the pid, or -1 (test failed) when fork fails. */
pid_t rsp_test_spawn(char *const argv[], const char *log_path);
/* Sends `sig` and waits up to 10 s (then SIGKILL). Returns the exit status as waitpid gives it. */
int rsp_test_stop(pid_t pid, int sig);
/* A TCP port on 127.0.0.1 that was free a moment ago, picked at random below the kernel's ephemeral
 * range (so outgoing connections of other tests cannot take it before the server binds it). */
unsigned rsp_test_free_port(void);
/* The first of `n` (at most 64) consecutive such ports, all free a moment ago. */
unsigned rsp_test_free_ports(unsigned n);
/* The last 40 lines of dir/name on stderr (the log of a process that misbehaved). */
void rsp_test_show_log(const char *dir, const char *name);
/* How many lines of dir/name contain `needle` (a grep pattern without single quotes); 0 when the
 * file is missing. */
int rsp_test_log_count(const char *dir, const char *name, const char *needle);
/* Waits until something accepts TCP connections on 127.0.0.1:port (up to timeout_ms). */
bool rsp_test_wait_port(unsigned port, int timeout_ms);

#endif
