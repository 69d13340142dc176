#ifndef HW_OPT_INT_H
#define HW_OPT_INT_H

/*
 * Internal to the option tables (opt.c, the table and the command line;
 * opt_ini.c, the INI reader): the error line both print. Main thread at
 * startup, or a reload's thread (its errors captured, hw_opt_capture_errors()).
 */

/*
 * Prints one error line to stderr, or, while this thread captures errors,
 * keeps the first one in the capture buffer, without its newline.
 */
__attribute__((format(printf, 1, 2))) void hw_opt_say(const char *fmt, ...);

#endif
