#ifndef HW_LWSLOG_H
#define HW_LWSLOG_H

/*
 * Routes libwebsockets' own log lines (errors and warnings; notices and info
 * too at debug level) through the one logger. Call once, after the log level
 * is set and before lws_create_context(); main thread.
 */
void hw_lwslog_route(void);

#endif
