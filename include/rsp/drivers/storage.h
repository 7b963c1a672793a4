/* openrsp drivers: the IPA's persistent storage port (struct rsp_ipa_storage_ops) on files.
 *
 * Each record is one file named after it in a directory the daemon owns (rsp-ipad --state-dir;
 * /var/lib/rsp-ipad under systemd). A save writes NAME.tmp, flushes it, renames it over NAME
 * and flushes the directory, so a crash or a power cut leaves the old record or the new one.
 * Record names are the IPA's own ("rollback", "state-change"): letters, digits and '-' only. */
#ifndef RSP_DRIVERS_STORAGE_H
#define RSP_DRIVERS_STORAGE_H

#include "rsp/ipa/ipa.h"

struct rsp_storage_dir {
  char path[512];
};

/* The directory must exist and be writable (checked here: RSP_E_IO, logged, otherwise). */
rsp_err_t rsp_storage_dir_init(struct rsp_storage_dir *s, const char *path);

extern const struct rsp_ipa_storage_ops rsp_storage_dir_ops; /* ctx: struct rsp_storage_dir */

#endif
