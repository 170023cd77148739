/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The daemon's endpoints: metrics, health, status and the control API. */
#ifndef CTACCEL_API_H
#define CTACCEL_API_H

#include <stddef.h>
#include "http.h"

/* Handlers take the struct daemon * given to http_server_new. */
extern const struct http_endpoint api_endpoints[];
extern const size_t api_nendpoints;

#endif
