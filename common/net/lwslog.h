#ifndef HW_LWSLOG_H
#define HW_LWSLOG_H

/*
 * Routes libwebsockets' own log lines through the one logger, at debug level
 * only ("lws: ..."): at other levels the programs report failures in their
 * own words. Call once, after the log level
 * is set and before lws_create_context(); main thread.
 */
void hw_lwslog_route(void);

#endif
