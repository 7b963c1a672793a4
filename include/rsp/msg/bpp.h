/* openrsp: cutting a Bound Profile Package into the calls of ES10b.LoadBoundProfilePackage
 * (SGP.22 §2.5.5, notes 4.5 "IPA-side split").
 *
 * The LPA or IPA does not send the BPP (BF36) in one piece: each of these is one
 * LoadBoundProfilePackage call, that is one STORE DATA sequence:
 *   1. the BF36 tag and length with the whole InitialiseSecureChannelRequest (BF23);
 *   2. the A0 tag and length with the first 87 (ConfigureISDP); each further 87 of A0 alone;
 *   3. the A1 tag and length;
 *   4. each 88 (StoreMetadata);
 *   5. if A2 is present, its tag and length with its first 87 (ReplaceSessionKeys); each
 *      further 87 alone;
 *   6. the A3 tag and length;
 *   7. each 86 (the profile).
 * Only the structure is checked here (strict DER headers, the containers in order with the
 * right element tags, nothing after A3); the segments are not decrypted. */
#ifndef RSP_MSG_BPP_H
#define RSP_MSG_BPP_H

#include <stddef.h>
#include <stdint.h>

#include "rsp/core/buf.h"
#include "rsp/core/error.h"

/* Containers and segment elements of BoundProfilePackage (rsp.asn). */
#define RSP_MSG_TAG_BPP_FIRST_SEQUENCE_OF_87 0xA0u  /* firstSequenceOf87 [0] */
#define RSP_MSG_TAG_BPP_SEQUENCE_OF_88 0xA1u        /* sequenceOf88 [1] */
#define RSP_MSG_TAG_BPP_SECOND_SEQUENCE_OF_87 0xA2u /* secondSequenceOf87 [2] */
#define RSP_MSG_TAG_BPP_SEQUENCE_OF_86 0xA3u        /* sequenceOf86 [3] */
#define RSP_MSG_TAG_BPP_ELEMENT_86 0x86u            /* [6] OCTET STRING */
#define RSP_MSG_TAG_BPP_ELEMENT_87 0x87u            /* [7] OCTET STRING */
#define RSP_MSG_TAG_BPP_ELEMENT_88 0x88u            /* [8] OCTET STRING */

/* Splits the complete BF36 in bpp. The segments are slices of bpp in sending order; up to
 * seg_size of them are written to seg and *n gets the total count, so a call with seg_size 0
 * counts them. RSP_E_BUF_SMALL when seg_size < *n; RSP_E_DER_* when bpp is not a well-formed
 * BoundProfilePackage. */
rsp_err_t rsp_msg_bpp_split(const uint8_t *bpp, size_t len, struct rsp_slice *seg, size_t seg_size,
                            size_t *n);

#endif
