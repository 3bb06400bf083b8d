// Every limit of the public site (OPS-3), defined once: what a page or an API answer holds at most,
// how many live connections it serves and how often it pushes to them.

/** Recent trades kept per instrument (since the node started): what the trades list and API show at most. */
export const TRADES_KEPT = 200;
/** Trades a market's section lists on its page. */
export const TRADES_SHOWN = 20;
/** Price levels per side a market's section lists on its page... */
export const BOOK_LEVELS_SHOWN = 10;
/** ...and its depth chart draws. */
export const DEPTH_CHART_LEVELS = 50;
/** Levels per side an API book answer holds: by default, and at most (`?depth=`). */
export const BOOK_DEPTH_DEFAULT = 20;
export const BOOK_DEPTH_MAX = 500;
/** Entries of a history (funding, the insurance fund) an API answer holds: by default and at most (`?limit=`). */
export const HISTORY_DEFAULT = 200;
export const HISTORY_MAX = 2_000;
/** Funding payments listed on the perpetuals page (the chart draws up to HISTORY_DEFAULT). */
export const FUNDING_ROWS_SHOWN = 8;
/** Post-event reports and notices an API answer holds: by default and at most. */
export const REPORTS_DEFAULT = 50;
export const REPORTS_MAX = 500;
/** Reports and notices listed on the perpetuals page. */
export const REPORTS_SHOWN = 10;

/** Live connections (`/site`) at most, and per source address; one more is refused with 503. */
export const SITE_CONNECTIONS_MAX = 1_024;
export const SITE_CONNECTIONS_PER_ADDRESS_MAX = 16;
/** Unsent bytes past which a live connection is closed as a slow consumer (1008). */
export const SITE_SLOW_CONSUMER_BYTES = 512 * 1024;
/** Pushes go out at most this often, and only after a durable batch changed something. */
export const SITE_PUSH_MS = 250;
/** A live connection sends nothing: a frame larger than this closes it (uWS's limit). */
export const SITE_INBOUND_BYTES_MAX = 512;
/** uWS pings an idle live connection and closes it when it stays silent this long (seconds). */
export const SITE_IDLE_TIMEOUT_S = 120;

/** Rendered pages and API answers reused while the node's sequence stands, at most this long... */
export const RESPONSE_CACHE_MS = 1_000;
/** ...and this many at once. */
export const RESPONSE_CACHE_ENTRIES_MAX = 128;
/** An answer larger than this is not cached (128 entries of it at most: 128 MiB). */
export const RESPONSE_CACHE_BODY_MAX = 1 << 20;
