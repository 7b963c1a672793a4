/* The IPA's persistent storage port on files, one per record (include/rsp/drivers/storage.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rsp/core/log.h"
#include "rsp/drivers/storage.h"

rsp_err_t rsp_storage_dir_init(struct rsp_storage_dir *s, const char *path) {
  struct stat st;
  if (!path || !*path || strlen(path) >= sizeof s->path - 32) return RSP_E_INVALID_ARG;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode) || access(path, W_OK | X_OK) != 0) {
    rsp_log(RSP_LOG_ERROR, "storage", "%s is not a writable directory: %s", path,
            errno ? strerror(errno) : "not a directory");
    return RSP_E_IO;
  }
  snprintf(s->path, sizeof s->path, "%s", path);
  return RSP_OK;
}

static bool valid_name(const char *name) {
  if (!name || !*name || strlen(name) > 32) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-'))
      return false;
  return true;
}

static rsp_err_t file_load(void *ctx, const char *name, struct rsp_buf *out) {
  struct rsp_storage_dir *s = ctx;
  char path[600];
  uint8_t chunk[RSP_IPA_RECORD_MAX + 1];
  if (!valid_name(name)) return RSP_E_INVALID_ARG;
  snprintf(path, sizeof path, "%s/%s", s->path, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? RSP_E_NOT_FOUND : RSP_E_IO;
  ssize_t n = read(fd, chunk, sizeof chunk);
  close(fd);
  if (n < 0) return RSP_E_IO;
  if ((size_t)n > RSP_IPA_RECORD_MAX) return RSP_E_BUF_CAP;
  return rsp_buf_append(out, chunk, (size_t)n);
}

static bool write_all(int fd, const uint8_t *data, size_t len) {
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= (size_t)n;
  }
  return true;
}

static void sync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

static rsp_err_t file_save(void *ctx, const char *name, const uint8_t *data, size_t len) {
  struct rsp_storage_dir *s = ctx;
  char path[600], tmp[620];
  if (!valid_name(name) || len > RSP_IPA_RECORD_MAX) return RSP_E_INVALID_ARG;
  snprintf(path, sizeof path, "%s/%s", s->path, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return RSP_E_IO;
  bool ok = write_all(fd, data, len) && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (ok && rename(tmp, path) == 0) {
    sync_dir(s->path);
    return RSP_OK;
  }
  rsp_log(RSP_LOG_ERROR, "storage", "cannot write %s: %s", path, strerror(errno));
  unlink(tmp);
  return RSP_E_IO;
}

static rsp_err_t file_erase(void *ctx, const char *name) {
  struct rsp_storage_dir *s = ctx;
  char path[600];
  if (!valid_name(name)) return RSP_E_INVALID_ARG;
  snprintf(path, sizeof path, "%s/%s", s->path, name);
  if (unlink(path) != 0 && errno != ENOENT) return RSP_E_IO;
  sync_dir(s->path);
  return RSP_OK;
}

const struct rsp_ipa_storage_ops rsp_storage_dir_ops = {file_load, file_save, file_erase};
