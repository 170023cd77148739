// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer: what reaches the daemon from the network or its configuration.
 * The first byte picks: a PUT /v1/policy body, a request line (method, then
 * URL, split at the first newline) against the endpoint table, or a listen
 * address.
 */
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/un.h>
#include "common.h"
#include "api.h"
#include "ctjson.h"

static void body(const char *text)
{
	struct ctaccel_rule *set = NULL;
	char err[256] = "";
	size_t n = 0, i;

	if (ctjson_rules_parse(text, &set, &n, err, sizeof(err))) {
		if (!err[0] || set)
			fuzz_fail("policy body", "refused without a reason, or kept memory");
		return;
	}
	if (n > 4096)
		fuzz_fail("policy body", "more than 4096 rules accepted");
	for (i = 0; i < n; i++)
		fuzz_check_rule(&set[i]);
	free(set);
}

static void request(char *text)
{
	char *nl = strchr(text, '\n');
	const char *method = text, *url = nl ? nl + 1 : "";
	unsigned int status = 0;

	if (nl)
		*nl = 0;
	if (!http_endpoint_find(api_endpoints, api_nendpoints, url, method, &status)) {
		if (status != 404 && status != 405)
			fuzz_fail("request", "refused with neither 404 nor 405");
	} else if (url[0] != '/' ||
		   (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "POST"))) {
		fuzz_fail("request", "an endpoint for an odd request");
	}
}

static void ok_inet(const char *text, in_port_t port, bool len_ok)
{
	const char *p = strrchr(text, ':');

	if (!port || !len_ok)
		fuzz_fail("listen", "an inet address with port 0 or a wrong length");
	/* decimal digits only: no sign, no base prefix */
	if (!p || !p[1] || strspn(p + 1, "0123456789") != strlen(p + 1))
		fuzz_fail("listen", "a port that is not decimal digits only was accepted");
}

static void listen_spec(const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	if (http_listen_parse(text, &ss, &len))
		return;
	if (ss.ss_family == AF_INET)
		ok_inet(text, ((struct sockaddr_in *)&ss)->sin_port,
			len == sizeof(struct sockaddr_in));
	else if (ss.ss_family == AF_INET6)
		ok_inet(text, ((struct sockaddr_in6 *)&ss)->sin6_port,
			len == sizeof(struct sockaddr_in6));
	else if (ss.ss_family != AF_UNIX || !((struct sockaddr_un *)&ss)->sun_path[0])
		fuzz_fail("listen", "an address of no family, or an empty path");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1 || size > 70 * 1024)
		return -1;
	text = fuzz_string(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		body(text);
		break;
	case 1:
		request(text);
		break;
	default:
		listen_spec(text);
		break;
	}
	free(text);
	return 0;
}
