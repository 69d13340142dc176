/*
 * The command table of hookwire-replay (commands.h): names, synopses,
 * help texts and the options each command accepts. Data only.
 */
#include "commands.h"

#include <stddef.h>

#define FILTER_HELP                                                                   \
    "  --source NAME      events of one source (receiver source or relay channel)\n"  \
    "  --since WHEN       received at or after WHEN: an age (90s, 30m, 2h, 3d, 1w)\n" \
    "                     or an ISO 8601 time (2026-12-02T10:00:00Z; no zone: UTC)\n" \
    "  --until WHEN       received before WHEN\n"                                     \
    "  --path GLOB        path glob: * any bytes, ? one byte (case matters)\n"

const struct replay_cmd replay_commands[] = {
    { "list", "[--status S] [filters] [--limit N] [--json]", "list events, newest first",
      "options:\n"
      "  --status STATUS    pending, delivered, failed or all (default all)\n" FILTER_HELP
      "  --limit N          at most N events (default 50; 0 for all, streamed in pages)\n"
      "  --json             one JSON object per line instead of the table\n\n"
      "On a terminal the events form a table (id, received, source, method, path,\n"
      "status, attempts, last result); piped, one tab-separated line per event.\n",
      REPLAY_OPT_FILTERS | REPLAY_OPT_STATUS | REPLAY_OPT_LIMIT | REPLAY_OPT_JSON,
      replay_cmd_list },
    { "show", "ID [--body | --json]", "one event: metadata, headers, verification, attempts",
      "options:\n"
      "  --body             write the raw body to stdout, byte for byte, and nothing else\n"
      "  --json             the event, its header lines and attempts as one JSON object\n",
      REPLAY_OPT_BODY | REPLAY_OPT_JSON, replay_cmd_show },
    { "retry", "ID... | --failed [filters] [--dry-run]", "requeue events for delivery now",
      "Requeued events are pending and due now: the running receivers deliver them\n"
      "next. Their attempt count and history are kept.\n\n"
      "options:\n"
      "  --failed           every failed event matching the filters\n" FILTER_HELP
      "  --dry-run          print how many and which, change nothing\n"
      "  --force            with ids: also requeue delivered events, and ones being\n"
      "                     delivered now (sends them again)\n\n"
      "Bulk work goes in pages of 1000 events, each requeued in one transaction;\n"
      "an event requeued by someone else meanwhile is left alone and not counted.\n"
      "Ctrl-C stops between pages and says how many were requeued.\n",
      REPLAY_OPT_FAILED | REPLAY_OPT_FILTERS | REPLAY_OPT_DRY_RUN | REPLAY_OPT_FORCE,
      replay_cmd_retry },
    { "deliver", "ID --to URL [--signing-secret S] [--ca-file F]",
      "deliver one event now to any URL",
      "Sends the event to URL with the headers and signature the receiver adds\n"
      "(Hookwire-Event-Id, Hookwire-Attempt, Hookwire-Timestamp, Hookwire-Signature),\n"
      "and prints the answer's status, the time taken and the start of its body.\n"
      "The event's status is not changed. Exit status 0 when the answer is 2xx.\n\n"
      "options:\n"
      "  --to URL           http(s)://HOST[:PORT][/PATH]: PATH, then the event's path;\n"
      "                     HOST a name or an IPv4 address, no user or password\n"
      "  --signing-secret S the receiver's signing secret (env:NAME or file:PATH);\n"
      "                     else signing-secret of --config FILE's [receiver]\n"
      "  --ca-file FILE     CAs that sign an https:// URL's certificate; else\n"
      "                     deliver-ca-file of --config FILE's [receiver], else the\n"
      "                     system store (the certificate and its name are checked)\n"
      "  --timeout D        longest wait for the answer (default 15s)\n",
      REPLAY_OPT_DELIVER, replay_cmd_deliver },
    { "purge", "--before AGE [--status S] [--dry-run]", "delete old events and their attempts",
      "options:\n"
      "  --before WHEN      events received before WHEN (an age such as 30d, or a time)\n"
      "  --status STATUS    delivered or failed (default both; pending events stay)\n"
      "  --dry-run          count them, delete nothing\n\n"
      "Deletes in transactions of 1000 events, oldest first.\n",
      REPLAY_OPT_BEFORE | REPLAY_OPT_STATUS | REPLAY_OPT_DRY_RUN, replay_cmd_purge },
    { "stats", "[--json]", "counts by status and source, failures and latency",
      "Counts by status and by source, the oldest pending event (the one stored\n"
      "first), events of the last hour now failed, and the delivery latency\n"
      "(receipt to 2xx) of the last hour.\n\n"
      "options:\n"
      "  --json             one JSON object\n",
      REPLAY_OPT_JSON, replay_cmd_stats },
    { NULL, NULL, NULL, NULL, 0, NULL },
};
