#ifndef HW_SIG_TWILIO_H
#define HW_SIG_TWILIO_H

/*
 * Twilio's URL signature (X-Twilio-Signature): HMAC-SHA1 of the public URL
 * followed by the sorted form parameters, or of the URL alone when it carries
 * bodySHA256 for a JSON body. Private to common/sig*; any thread.
 */
#include "sig_source.h"

enum hw_sig_reason hw_sig_verify_twilio(const struct hw_sig_source *src,
                                        const struct hw_sig_request *req,
                                        struct hw_sig_result *res);

#endif
