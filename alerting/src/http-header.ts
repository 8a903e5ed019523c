// What Node's HTTP client accepts in a request header, checked where the config is read: it
// refuses anything else on every request, which the caller then retries forever as a
// "network error". A value read from a secret file often ends with a newline.

/** RFC 9110 §5.6.2 token: a header name (a JSON-schema `pattern`). */
export const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/** RFC 9110 §5.5: a field value holds no CR, LF or NUL (the `header-value` schema format). */
export function isHeaderValue(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}
