/* utf8.c - strict UTF-8 decoding and the streaming assembler of qlm.h.
 *
 * Strict means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. Callers treat a byte that does not start a valid sequence as a
 * lone invalid byte, so every input has one defined segmentation. */
#include <string.h>

#include "tok_internal.h"

size_t tok_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 or F5..FF */
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Could s[0..n) still grow into a valid sequence? (n < its full length) */
static int utf8_is_valid_prefix(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return 0;
    if (n >= need) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
    }
    /* The second byte's range rules out overlongs and surrogates early. */
    if (n >= 2) {
        unsigned d = s[1];
        if (c == 0xE0 && d < 0xA0) return 0;
        if (c == 0xED && d > 0x9F) return 0;
        if (c == 0xF0 && d < 0x90) return 0;
        if (c == 0xF4 && d > 0x8F) return 0;
    }
    return 1;
}

static const char k_replacement[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

/* Appends len bytes if they fit; the stream never writes past cap. */
static size_t put(char *out, size_t cap, size_t at, const char *s, size_t len) {
    if (at + len > cap) return at;
    memcpy(out + at, s, len);
    return at + len;
}

size_t qlm_utf8_stream_push(qlm_utf8_stream *s, const char *bytes, size_t n, char *out,
                            size_t cap) {
    if (!s || !out || (!bytes && n > 0)) return 0;
    size_t np = (s->n_pending > 0 && s->n_pending <= 3) ? (size_t)s->n_pending : 0;
    unsigned char pend[4];
    memcpy(pend, s->pending, sizeof pend);
    s->n_pending = 0;
    const unsigned char *b = (const unsigned char *)bytes;
    size_t total = np + n, j = 0, w = 0;
    /* Walk the logical stream pending ++ bytes; positions inside the old
     * pending bytes are decoded from a small copy. */
    while (j < total) {
        unsigned char tmp[4] = {0};
        const unsigned char *p;
        size_t avail;
        if (j < np) {
            avail = 0;
            for (size_t q = j; q < total && avail < 4; q++) {
                tmp[avail++] = q < np ? pend[q] : b[q - np];
            }
            p = tmp;
        } else {
            p = b + (j - np);
            avail = total - j;
        }
        uint32_t cp;
        size_t k = tok_utf8_decode(p, avail, &cp);
        if (k > 0) {
            w = put(out, cap, w, (const char *)p, k);
            j += k;
        } else if (utf8_is_valid_prefix(p, avail)) {
            /* Only reachable at the end of the input: keep it for later. */
            memcpy(s->pending, p, avail);
            s->n_pending = (int)avail;
            break;
        } else {
            w = put(out, cap, w, k_replacement, 3);
            j++;
        }
    }
    return w;
}

size_t qlm_utf8_stream_flush(qlm_utf8_stream *s, char *out, size_t cap) {
    if (!s || !out) return 0;
    size_t w = 0;
    if (s->n_pending > 0) w = put(out, cap, 0, k_replacement, 3);
    s->n_pending = 0;
    return w;
}
