/* termesc.h - untrusted text (names and keys from the bucket) made safe for a terminal. */
#ifndef RBD2S3_TERMESC_H
#define RBD2S3_TERMESC_H

#include <stddef.h>

/* Size of the result buffers of termesc_str; longer results are truncated. */
#define TERMESC_BUF 8192
/* How many termesc_str results stay valid at once. */
#define TERMESC_RING 8

/* Copy in into out (outsz > 0 bytes, always NUL-terminated), escaping what a terminal
 * could act on: a backslash becomes "\\", newline, tab and carriage return "\n", "\t",
 * "\r", and "\xNN" stands for every other C0 control byte, DEL, every byte that is not
 * part of well-formed UTF-8, and each byte of the C1 controls U+0080..U+009F and of the
 * bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069). Everything else (printable ASCII, other UTF-8) is copied. A result
 * that does not fit is cut before a whole escape or character. in NULL counts as "".
 * Returns out; cannot fail. */
char *termesc(const char *in, char *out, size_t outsz);

/* termesc into the next of TERMESC_RING static buffers of TERMESC_BUF bytes, for the
 * arguments of one printf: main thread only; valid until TERMESC_RING more calls. */
const char *termesc_str(const char *in);

#endif
