/* openrsp: the BPP secure channel (BSP, formerly SCP03t) of SGP.22 §2.5.4 and §2.6.4.
 *
 * One module for both ends of the channel: the SM-DP+ wraps the segments of a Bound Profile
 * Package (encrypt and MAC), the eUICC unwraps them (verify the MAC, decrypt, strip the padding).
 *
 * Session keys. ShS is the x-coordinate of the ECDH between the two one-time keys
 * (otSK.EUICC.ECKA/otPK.DP.ECKA on the card, otSK.DP.ECKA/otPK.EUICC.ECKA on the server).
 * KeyData = X9.63-KDF-SHA-256(ShS, SharedInfo), 48 bytes, with SharedInfo = keyType (0x88) ||
 * keyLength (0x10) || len(hostId) || hostId || 0x10 || EID. KeyData[0:16] is the initial MAC
 * chaining value, [16:32] S-ENC, [32:48] S-MAC.
 *
 * Segments. A segment is tag || L || data || C-MAC with tag 86 or 87 (encrypted and MACed) or
 * 88 (MAC only). For 86/87 the plaintext is padded with 80 00.. to a multiple of 16 bytes (at
 * least one 80 byte) and encrypted with AES-128-CBC under S-ENC; the ICV is AES-128(S-ENC,
 * block counter as 16 bytes big-endian). The block counter starts at 1 and advances once per
 * segment, MAC-only 88 segments included. C-MAC is the first 8 bytes of
 * AES-CMAC(S-MAC, MCV || tag || L || data) where L is the DER length of data + 8; the full
 * 16-byte CMAC becomes the next MCV. A whole segment is at most RSP_BSP_SEGMENT_MAX bytes
 * (SGP.22 §2.5.3).
 *
 * ReplaceSessionKeys (the BF26 in secondSequenceOf87) installs PPK-ENC, PPK-MAC and a new MCV
 * for the 86 segments that follow. Whether the block counter restarts at 1 there is not settled
 * in our notes (pySim restarts it), so the caller chooses; RSP_BSP_COUNTER_RESTART is the
 * default (the zero value).
 *
 * Error codes. Every failing call leaves the state (keys, MCV, counter) and the input cursor
 * unchanged, so a rejected segment can be followed by the correct one:
 *   RSP_E_INVALID_ARG        NULL pointers, a tag other than 86/87/88, bad key parameters
 *   RSP_E_UNSUPPORTED        keyType other than 0x88 (AES) or keyLength other than 0x10
 *   RSP_E_STATE              the channel is not initialised (or was freed)
 *   RSP_E_BUF_CAP            plaintext or segment larger than one segment may carry
 *   RSP_E_BUF_SMALL          the caller's output buffer is too small
 *   RSP_E_DER_*              framing: not one strict-DER TLV, RSP_E_DER_UNEXPECTED_TAG for a
 *                            different tag, RSP_E_DER_BAD_VALUE for a value too short for the
 *                            C-MAC or a ciphertext that is not a non-empty multiple of 16
 *   RSP_E_SIG_INVALID        C-MAC mismatch (tampered, replayed, reordered or wrong keys)
 *   RSP_E_CRYPTO             bad padding after a valid C-MAC (wrong S-ENC or block counter,
 *                            or a sender bug), or an OpenSSL failure
 * On the eUICC, RSP_E_DER_* maps to errorReason scp03tStructureError (7) and RSP_E_SIG_INVALID
 * and RSP_E_CRYPTO to scp03tSecurityError (8) of ProfileInstallationResult.
 */
#ifndef RSP_CRYPTO_BSP_H
#define RSP_CRYPTO_BSP_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/error.h"
#include "rsp/crypto/crypto.h"

/* Segment tags: the elements of BoundProfilePackage (rsp.asn). */
#define RSP_BSP_TAG_SEQUENCE_OF_86 0x86u /* sequenceOf86 [6]: encrypted + MACed profile data */
#define RSP_BSP_TAG_SEQUENCE_OF_87 0x87u /* first/secondSequenceOf87 [7]: encrypted + MACed */
#define RSP_BSP_TAG_SEQUENCE_OF_88 0x88u /* sequenceOf88 [8]: MAC-only StoreMetadataRequest */

/* The CRT of InitialiseSecureChannelRequest (A6 {80 keyType, 81 keyLength, 84 hostId}). */
#define RSP_BSP_KEY_TYPE_AES 0x88u
#define RSP_BSP_KEY_LENGTH_AES128 0x10u
#define RSP_BSP_HOST_ID_MAX 16
#define RSP_BSP_EID_LEN 16
#define RSP_BSP_KEY_DATA_LEN 48 /* MCV || S-ENC || S-MAC */

#define RSP_BSP_KEY_LEN 16
#define RSP_BSP_MCV_LEN 16
#define RSP_BSP_MAC_LEN 8          /* C-MAC: the truncated CMAC carried in each segment */
#define RSP_BSP_SEGMENT_MAX 1020   /* tag + length + data + C-MAC (SGP.22 §2.5.3) */
#define RSP_BSP_ENC_PLAIN_MAX 1007 /* what fits in one 86/87 segment (see rsp_bsp_max_plain) */
#define RSP_BSP_MAC_PLAIN_MAX 1008 /* what fits in one 88 segment */

/* A key set: the session keys from the KDF, or the PPKs of ReplaceSessionKeysRequest
 * (initialMacChainingValue -> mcv, ppkEnc -> enc, ppkCmac -> mac; each exactly 16 bytes). */
struct rsp_bsp_keys {
  uint8_t mcv[RSP_BSP_MCV_LEN];
  uint8_t enc[RSP_BSP_KEY_LEN];
  uint8_t mac[RSP_BSP_KEY_LEN];
};

/* Whether rsp_bsp_replace_keys restarts the block counter. */
enum rsp_bsp_counter_mode {
  RSP_BSP_COUNTER_RESTART = 0, /* next segment uses counter 1 (pySim; the default) */
  RSP_BSP_COUNTER_CONTINUE     /* the counter goes on from the segment before */
};

/* The channel state of one side. Plain data with no pointers, so the eUICC can keep it in its
 * download session; counter 0 means "not initialised". Release it with rsp_bsp_free. */
struct rsp_bsp {
  uint8_t enc[RSP_BSP_KEY_LEN];
  uint8_t mac[RSP_BSP_KEY_LEN];
  uint8_t mcv[RSP_BSP_MCV_LEN];
  uint64_t counter; /* block counter of the next segment */
};

/* KeyData from ShS and the CRT values (SGP.22 §2.6.4.2). hostId is 1..16 bytes. */
rsp_err_t rsp_bsp_derive_keys(const uint8_t shs[RSP_ECDH_SECRET_LEN], uint8_t key_type,
                              uint8_t key_length, const uint8_t *host_id, size_t host_id_len,
                              const uint8_t eid[RSP_BSP_EID_LEN], struct rsp_bsp_keys *out);
/* The same, computing ShS = ECDH(own one-time private key, peer's one-time public key) first. */
rsp_err_t rsp_bsp_derive_keys_ecdh(const struct rsp_key *own_otsk, const struct rsp_key *peer_otpk,
                                   uint8_t key_type, uint8_t key_length, const uint8_t *host_id,
                                   size_t host_id_len, const uint8_t eid[RSP_BSP_EID_LEN],
                                   struct rsp_bsp_keys *out);

/* Starts a channel: S-ENC, S-MAC, the initial MCV, counter 1. Cannot fail. */
void rsp_bsp_init(struct rsp_bsp *bsp, const struct rsp_bsp_keys *keys);
/* Zeroes the keys and the MCV; NULL-safe and idempotent. The state refuses further use. */
void rsp_bsp_free(struct rsp_bsp *bsp);
/* ReplaceSessionKeys: installs PPK-ENC, PPK-MAC and the new MCV; `mode` decides the counter. */
rsp_err_t rsp_bsp_replace_keys(struct rsp_bsp *bsp, const struct rsp_bsp_keys *ppk,
                               enum rsp_bsp_counter_mode mode);

/* Largest plaintext one segment with this tag can carry (RSP_BSP_ENC_PLAIN_MAX for 86/87,
 * RSP_BSP_MAC_PLAIN_MAX for 88); 0 for any other tag. The SM-DP+ cuts the profile with it. */
size_t rsp_bsp_max_plain(uint32_t tag);
/* Size of the segment that wrapping plain_len bytes with `tag` gives; 0 when the tag is not a
 * segment tag or plain_len exceeds rsp_bsp_max_plain(tag). */
size_t rsp_bsp_wrapped_len(uint32_t tag, size_t plain_len);

/* Sender: wraps plain_len bytes into one segment at out (out_size >= rsp_bsp_wrapped_len),
 * then moves the MCV and the counter on. */
rsp_err_t rsp_bsp_wrap(struct rsp_bsp *bsp, uint32_t tag, const uint8_t *plain, size_t plain_len,
                       uint8_t *out, size_t out_size, size_t *out_len);
/* Receiver: reads one segment at *p that must carry `tag`, verifies its C-MAC, decrypts it
 * (86/87) and writes the plaintext to out. On success *p points past the segment and the MCV and
 * counter have moved on; on failure nothing has changed (see the error codes above). An out_size
 * of RSP_BSP_MAC_PLAIN_MAX always suffices. */
rsp_err_t rsp_bsp_unwrap(struct rsp_bsp *bsp, uint32_t tag, const uint8_t **p, const uint8_t *end,
                         uint8_t *out, size_t out_size, size_t *out_len);

#endif
