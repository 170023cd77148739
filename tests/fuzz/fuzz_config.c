// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: the daemon's configuration file, read as the daemon reads it
 * (libinih, then every key through the same setters as the flags). Checked:
 * a bad file names a line and a reason; the same text gives the same answer.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, err[256], err2[256];
	int line, line2;

	if (size > 16384)
		return -1;
	text = fuzz_string(data, size);
	line = daemon_conf_check(text, err, sizeof(err));
	if (line < 0)
		fuzz_fail("config", "setup failed");
	if (line > 0 && !err[0])
		fuzz_fail("config", "a bad line without a reason");
	line2 = daemon_conf_check(text, err2, sizeof(err2));
	if (line2 != line || strcmp(err, err2))
		fuzz_fail("config", "two reads of one text differ");
	free(text);
	return 0;
}
