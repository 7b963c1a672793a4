/* rsp-msg: decodes SGP.22 / SGP.32 messages (DER) into JSON, for traces, logs and test labs.
 *
 *   rsp-msg decode [--type NAME] [--pretty] (HEX | --file PATH | -)
 *   rsp-msg types
 *
 * Without --type every production whose tag matches the input's outer tag is tried; all that
 * decode are reported (e.g. BF51 is an EuiccPackageRequest or an EuiccPackageResult).
 * Exit codes: 0 decoded, 1 not decodable, 2 usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp/core/alloc.h"
#include "rsp/core/hex.h"
#include "rsp/msg/asn1.h"
#include "rsp/msg/sgp32_v10.h"

#define MAX_INPUT (16u * 1024u * 1024u)

static const char usage_text[] =
    "usage: rsp-msg <command> [options]\n"
    "\n"
    "commands:\n"
    "  decode [--type NAME] [--pretty] (HEX | --file PATH | -)\n"
    "      Decode one DER message and print it as JSON: {\"type\": ..., \"value\": ...}.\n"
    "      HEX may contain spaces; '-' reads binary DER from standard input; --file reads\n"
    "      binary DER (or hex text when the file is hex). Without --type, every message type\n"
    "      whose tag matches is tried and all successful readings are printed.\n"
    "  types\n"
    "      List the message types (ASN.1 production names) with their tags.\n"
    "\n"
    "Exit codes: 0 decoded, 1 not decodable, 2 usage error.\n";

static int usage(FILE *f, int rc) {
  fputs(usage_text, f);
  return rc;
}

static uint8_t *read_stream(FILE *f, size_t *len) {
  struct rsp_buf b;
  uint8_t chunk[8192];
  size_t n;
  rsp_buf_init(&b, MAX_INPUT);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (rsp_buf_append(&b, chunk, n) != RSP_OK) {
      fprintf(stderr, "rsp-msg: input larger than %u bytes\n", MAX_INPUT);
      rsp_buf_free(&b);
      return NULL;
    }
  }
  return rsp_buf_take(&b, len);
}

/* Hex text (whitespace allowed) to bytes; NULL when the text is not hex. */
static uint8_t *from_hex_text(const uint8_t *text, size_t n, size_t *len) {
  char *clean = rsp_malloc(n + 1);
  size_t k = 0;
  if (!clean) return NULL;
  for (size_t i = 0; i < n; i++)
    if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
      clean[k++] = (char)text[i];
  clean[k] = '\0';
  uint8_t *out = rsp_malloc(k / 2 + 1);
  if (!out || rsp_hex_decode(clean, out, k / 2 + 1, len) != RSP_OK) {
    rsp_free(out);
    out = NULL;
  }
  rsp_free(clean);
  return out;
}

static bool print_one(const struct rsp_msg_type *t, const uint8_t *der, size_t len, bool pretty,
                      bool quiet) {
  struct rsp_arena a;
  struct rsp_buf out;
  struct rsp_msg_diag diag;
  void *v = NULL;
  rsp_arena_init(&a, RSP_MSG_ARENA_CAP);
  rsp_buf_init(&out, MAX_INPUT * 4);
  rsp_err_t rc = rsp_msg_decode(t, der, len, &a, &v, &diag);
  if (rc == RSP_OK) rc = rsp_msg_to_json(t, v, pretty, &out);
  if (rc == RSP_OK)
    printf("{\"type\": \"%s\", \"value\": %.*s}\n", t->name, (int)out.len, (const char *)out.data);
  else if (!quiet)
    fprintf(stderr, "rsp-msg: not a %s: %s at %s\n", t->name, rsp_strerror(rc), diag.path);
  rsp_buf_free(&out);
  rsp_arena_free(&a);
  return rc == RSP_OK;
}

static int decode_any(const uint8_t *der, size_t len, bool pretty) {
  struct rsp_der_tlv tlv;
  rsp_err_t rc = rsp_der_parse_one(der, len, &tlv);
  int found = 0;
  if (rc != RSP_OK) {
    fprintf(stderr, "rsp-msg: not one DER element: %s\n", rsp_strerror(rc));
    return 1;
  }
  for (size_t i = 0; i < rsp_msg_all_types_count; i++) {
    const struct rsp_msg_type *t = rsp_msg_all_types[i];
    if (t->tag == tlv.tag && !strchr(t->name, '.')) found += print_one(t, der, len, pretty, true);
  }
  if (!found) fprintf(stderr, "rsp-msg: no message type with tag %X decodes this input\n", tlv.tag);
  return found ? 0 : 1;
}

static int cmd_types(void) {
  for (size_t i = 0; i < rsp_msg_all_types_count; i++) {
    const struct rsp_msg_type *t = rsp_msg_all_types[i];
    if (!strchr(t->name, '.')) printf("%-48s %X\n", t->name, t->tag);
  }
  return 0;
}

static int cmd_decode(int argc, char **argv) {
  const char *type = NULL, *file = NULL, *hex = NULL;
  bool pretty = false, from_stdin = false;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
      type = argv[++i];
    else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
      file = argv[++i];
    else if (strcmp(argv[i], "--pretty") == 0)
      pretty = true;
    else if (strcmp(argv[i], "-") == 0)
      from_stdin = true;
    else if (argv[i][0] != '-' && !hex)
      hex = argv[i];
    else
      return usage(stderr, 2);
  }
  if ((hex != NULL) + (file != NULL) + from_stdin != 1) return usage(stderr, 2);
  const struct rsp_msg_type *t = type ? rsp_msg_type_find(type) : NULL;
  if (type && !t) {
    fprintf(stderr, "rsp-msg: unknown type %s (see rsp-msg types)\n", type);
    return 2;
  }
  size_t len = 0, raw_len = 0;
  uint8_t *der = NULL, *raw = NULL;
  if (hex) {
    der = from_hex_text((const uint8_t *)hex, strlen(hex), &len);
  } else {
    FILE *f = file ? fopen(file, "rb") : stdin;
    if (!f) {
      fprintf(stderr, "rsp-msg: %s: %s\n", file, strerror(errno));
      return 1;
    }
    raw = read_stream(f, &raw_len);
    if (file) fclose(f);
    der = file && raw ? from_hex_text(raw, raw_len, &len) : NULL;
    if (!der && raw) der = rsp_memdup(raw, len = raw_len);
  }
  rsp_free(raw);
  if (!der) {
    fprintf(stderr, "rsp-msg: unreadable input (hex expected on the command line)\n");
    return 1;
  }
  int rc = t ? (print_one(t, der, len, pretty, false) ? 0 : 1) : decode_any(der, len, pretty);
  rsp_free(der);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage(stderr, 2);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return usage(stdout, 0);
  if (strcmp(argv[1], "types") == 0) return cmd_types();
  if (strcmp(argv[1], "decode") == 0) return cmd_decode(argc - 2, argv + 2);
  fprintf(stderr, "rsp-msg: unknown command %s\n", argv[1]);
  return usage(stderr, 2);
}
