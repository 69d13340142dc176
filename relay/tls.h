#ifndef RELAY_TLS_H
#define RELAY_TLS_H

/*
 * The relay's TLS certificate and key, checked before lws takes them (at the
 * start and on SIGHUP), so that a mistake is named in the terms of the
 * options: which file, and whether it is missing, not PEM, or not the key of
 * the certificate.
 */
#include <stddef.h>

/* 0, or HW_ECONFIG with the reason in why (n bytes). Any thread. */
int relay_tls_check(const char *cert, const char *key, char *why, size_t n);

#endif
