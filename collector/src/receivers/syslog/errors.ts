// Error codes of the syslog receiver. Passed to `SyslogSink.reject` and returned by the
// parser / framer. Values equal their names so they can be logged and grepped as-is.

/** PRI missing, not `<1*3DIGIT>`, or above 191 (RFC 5424 §6.2.1). */
export const PERISCOPE_ERR_SYSLOG_BAD_PRI = 'PERISCOPE_ERR_SYSLOG_BAD_PRI';
/**
 * VERSION not `1` (RFC 5424 §6.2.2). 1–3 digits and SP after PRI are read as a VERSION; anything
 * else after PRI is read as RFC 3164 (parse3164.ts), which has no VERSION.
 */
export const PERISCOPE_ERR_SYSLOG_BAD_VERSION = 'PERISCOPE_ERR_SYSLOG_BAD_VERSION';
/**
 * TIMESTAMP is neither `-` nor a valid RFC 3339 date-time as restricted by RFC 5424 §6.2.3; an
 * RFC 3164 TIMESTAMP ("Mmm dd hh:mm:ss" and its variants) that is no date; or a date outside
 * what the store keeps.
 */
export const PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP = 'PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP';
/**
 * A header field is missing, empty, or contains bytes outside PRINTUSASCII (RFC 5424 §6.2);
 * nothing after PRI; an RFC 3164 HOSTNAME with nothing after it.
 */
export const PERISCOPE_ERR_SYSLOG_BAD_HEADER = 'PERISCOPE_ERR_SYSLOG_BAD_HEADER';
/** STRUCTURED-DATA does not follow RFC 5424 §6.3. */
export const PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA = 'PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA';
/** A frame (TCP) or datagram (UDP) is larger than `maxFrameBytes`; it is skipped. */
export const PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE = 'PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE';
/**
 * The TCP connection ended inside an octet-counted frame, or was cut (reset, error, shutdown)
 * inside any frame; the partial frame is dropped. A LF frame the sender ends with a FIN is kept.
 */
export const PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME = 'PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME';
/** A TCP connection beyond `maxConnections`, closed on accept (SyslogSink.refuse). */
export const PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS = 'PERISCOPE_ERR_SYSLOG_TOO_MANY_CONNECTIONS';

/**
 * A TLS connection (syslog.tls) whose handshake failed: a sender without a client certificate of
 * syslog.tls.clientCaFile's CA, a plain-TCP sender on the TLS port, no common TLS version. The
 * connection is closed (SyslogSink.refuse).
 */
export const PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED = 'PERISCOPE_ERR_SYSLOG_TLS_HANDSHAKE_FAILED';

export type SyslogErrorCode =
  | typeof PERISCOPE_ERR_SYSLOG_BAD_PRI
  | typeof PERISCOPE_ERR_SYSLOG_BAD_VERSION
  | typeof PERISCOPE_ERR_SYSLOG_BAD_TIMESTAMP
  | typeof PERISCOPE_ERR_SYSLOG_BAD_HEADER
  | typeof PERISCOPE_ERR_SYSLOG_BAD_STRUCTURED_DATA
  | typeof PERISCOPE_ERR_SYSLOG_FRAME_TOO_LARGE
  | typeof PERISCOPE_ERR_SYSLOG_TRUNCATED_FRAME;
