/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* What the parser fuzz targets share: input splitting and result checks. */
#ifndef CTACCEL_FUZZ_COMMON_H
#define CTACCEL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "libctaccel.h"

#define FUZZ_WORDS 16

/* Split `size` bytes at NUL and newline into at most FUZZ_WORDS words, in
 * `buf` (size + 1 bytes); returns the count. */
int fuzz_words(const uint8_t *data, size_t size, char *buf, char **argv);

/* A NUL-terminated copy of the input; free() it. */
char *fuzz_string(const uint8_t *data, size_t size);

/* Abort unless a parsed rule is well-formed: 1 or 2 keys, a known family, a
 * prefix length in range with no host bits past it, and its text form parses
 * back to the same rule. */
void fuzz_check_rule(const struct ctaccel_rule *r);

void fuzz_fail(const char *target, const char *why) __attribute__((noreturn));

#endif
