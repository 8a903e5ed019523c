import type { ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { ERR, PeriscopeError } from '../errors.ts';

/** What a refused request is told to wait: bodies in flight are answered within seconds. */
const RETRY_AFTER_SECONDS = 1;

/**
 * The bound of `http.maxInflightBytes`: request body bytes held in memory at once, over all
 * requests, from the first byte read (after decompression) until the request is answered.
 * `http.bodyLimit` bounds one request and `http.maxConnections` their number, but not their
 * product: 100 senders each holding a 15 MiB body open (a slow link, or a 100 KiB gzip body whose
 * last bytes have not arrived yet) took the collector's resident memory to 2 GB, and the default
 * 1000 connections could take it to 16 GiB, far past a container's memory limit. A request that
 * would go over the bound is answered 503 with Retry-After, which SDKs, OTLP exporters and
 * Prometheus' remote write retry, as the OpenTelemetry Collector's memory_limiter refuses data.
 *
 * A request is refused only while others hold bytes: alone it always fits (its size is
 * bodyLimit's business), so no sender retries a request that can never be taken.
 */
export class InflightBytes {
  #held = 0;
  readonly #limit: number;
  readonly #onRefused: () => void;

  constructor(limit: number, onRefused: () => void = () => {}) {
    this.#limit = limit;
    this.#onRefused = onRefused;
  }

  /** Body bytes held now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Counts the body of one request until `response` closes (a body over bodyLimit is not
   * given: it is refused with 413, not told to come back). `body` is what the request is read
   * from (`source`, the socket's stream, or a decoder fed by it). A body read as sent whose
   * Content-Length is known is counted whole before any of it is read, and refused by throwing;
   * any other is counted chunk by chunk as it is read through the returned stream, which fails
   * with the refusal (and stops reading `source`, so the rest can be discarded).
   */
  admit(body: Readable, source: Readable, declaredLength: number | undefined, response: ServerResponse): Readable {
    let taken = 0;
    response.once('close', () => {
      this.#held -= taken;
      taken = 0;
    });
    const take = (bytes: number): boolean => {
      if (this.#held + bytes > this.#limit && this.#held > taken) return false;
      this.#held += bytes;
      taken += bytes;
      return true;
    };
    if (body === source && declaredLength !== undefined) {
      if (!take(declaredLength)) throw this.#refusal();
      return body;
    }
    const metered = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => {
        if (take(chunk.length)) {
          callback(null, chunk);
          return;
        }
        source.unpipe();
        callback(this.#refusal());
      },
    });
    body.on('error', (err) => metered.destroy(err));
    // Fastify checks a decoder's count of the bytes as sent against bodyLimit (server.ts).
    Object.defineProperty(metered, 'receivedEncodedLength', { get: () => (body as Readable & { receivedEncodedLength?: number }).receivedEncodedLength });
    return body.pipe(metered);
  }

  #refusal(): PeriscopeError {
    this.#onRefused();
    return new PeriscopeError(
      ERR.OVERLOADED,
      `request bodies of ${this.#held} bytes are being received or handled, at the bound of http.maxInflightBytes (${this.#limit}): retry after the Retry-After`,
      503,
      { bound: 'http.maxInflightBytes', limit: this.#limit },
      RETRY_AFTER_SECONDS,
    );
  }
}
