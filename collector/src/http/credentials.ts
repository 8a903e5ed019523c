// Checks the `Authorization` header of a request against http.auth: basic users with bcrypt
// hashes, as Prometheus' web config (https://prometheus.io/docs/prometheus/latest/configuration/https/),
// and bearer tokens, as the OpenTelemetry Collector's bearertokenauth extension.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';

export interface HttpAuthConfig {
  basicUsers: Record<string, string>;
  bearerTokens: string[];
}

/**
 * Why a request's credentials were not accepted: none sent (`missing`), or sent and wrong in any
 * way — unknown user, wrong password, unknown token, malformed header, a scheme not configured
 * (`invalid`); `busy`: too many bcrypt checks running to start one more (answer 503, retry).
 */
export type Verdict = { ok: true } | { ok: false; reason: 'missing' | 'invalid' | 'busy' };

/** bcrypt reads only the first 72 bytes of a password: a longer one would match on its first 72. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;

/**
 * Compared with the password of a user that does not exist, so that the answer for an unknown
 * user takes as long as for a wrong password (the user names cannot be told by timing), as
 * Prometheus' exporter-toolkit does. bcrypt of a random password at cost 10.
 */
const ABSENT_USER_HASH = '$2b$10$MN65B9E1i3fBh0KhKS53DuyM.5ggoF51szQyBkdDMIPUr.YFan6SG';

export interface VerifierOptions {
  /** Successful basic checks remembered (least recently used dropped first). */
  cacheSize?: number;
  /** bcrypt checks running at once; more get `busy`. */
  maxPendingChecks?: number;
  /** bcrypt's compare; a test may count the calls. */
  compare?: (password: string, hash: string) => Promise<boolean>;
}

const OK: Verdict = { ok: true };
const MISSING: Verdict = { ok: false, reason: 'missing' };
const INVALID: Verdict = { ok: false, reason: 'invalid' };
const BUSY: Verdict = { ok: false, reason: 'busy' };

/**
 * The verdict on one `Authorization` header value: synchronous for a bearer token and for basic
 * credentials checked successfully before (the cache), a promise when bcrypt must run.
 *
 * The cache, as Prometheus' (exporter-toolkit's web/handler.go): bcrypt costs 50-100 ms of CPU a
 * check, and every SDK sends a request a second. It holds only successes, under a key that is an
 * HMAC (a random key of this process) of user, hash and password together: a wrong password, or
 * the right one after the hash changed, is never a hit, and what the cache holds does not give the
 * password back without the process's key. Bounded by `cacheSize`; concurrent checks of the same
 * credentials share one bcrypt run; at most `maxPendingChecks` run at once, so a flood of wrong
 * passwords (never cached) cannot queue unbounded work.
 */
export class CredentialVerifier {
  readonly #users: Map<string, string>;
  readonly #tokenDigests: Buffer[];
  readonly #cache = new Map<string, true>();
  readonly #pending = new Map<string, Promise<Verdict>>();
  readonly #cacheKey = randomBytes(32);
  readonly #cacheSize: number;
  readonly #maxPending: number;
  readonly #compare: (password: string, hash: string) => Promise<boolean>;

  constructor(config: HttpAuthConfig, options: VerifierOptions = {}) {
    this.#users = new Map(Object.entries(config.basicUsers));
    this.#tokenDigests = config.bearerTokens.map(digest);
    this.#cacheSize = options.cacheSize ?? 1000;
    this.#maxPending = options.maxPendingChecks ?? 64;
    this.#compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
  }

  /** Whether any credential is configured: without one, no request is checked. */
  get enabled(): boolean {
    return this.#users.size > 0 || this.#tokenDigests.length > 0;
  }

  get acceptsBasic(): boolean {
    return this.#users.size > 0;
  }

  get acceptsBearer(): boolean {
    return this.#tokenDigests.length > 0;
  }

  /** Successful checks remembered now (for tests of the bound). */
  get cached(): number {
    return this.#cache.size;
  }

  verify(authorization: string | undefined): Verdict | Promise<Verdict> {
    if (authorization === undefined || authorization.trim() === '') return MISSING;
    // RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]; the scheme is
    // case-insensitive (§11.1).
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(.*)$/.exec(authorization);
    if (!match) return INVALID;
    const scheme = match[1].toLowerCase();
    if (scheme === 'bearer' && this.acceptsBearer) return this.#verifyBearer(match[2].trim());
    if (scheme === 'basic' && this.acceptsBasic) return this.#verifyBasic(match[2].trim());
    return INVALID;
  }

  /** Every token is compared, each in constant time, so timing tells neither which nor how much matched. */
  #verifyBearer(token: string): Verdict {
    const given = digest(token);
    let found = false;
    for (const d of this.#tokenDigests) found = timingSafeEqual(given, d) || found;
    return found ? OK : INVALID;
  }

  #verifyBasic(token68: string): Verdict | Promise<Verdict> {
    // RFC 7617 §2: base64 of user-id ":" password, UTF-8 (the charset the challenge names).
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token68)) return INVALID;
    const decoded = Buffer.from(token68, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return INVALID;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) return INVALID;
    const hash = this.#users.get(user);
    const key = createHmac('sha256', this.#cacheKey).update(`${user}\0${hash ?? ''}\0${password}`).digest('base64');
    if (hash !== undefined && this.#cache.has(key)) {
      // Least recently used first out: a hit moves the key to the end.
      this.#cache.delete(key);
      this.#cache.set(key, true);
      return OK;
    }
    const running = this.#pending.get(key);
    if (running) return running;
    if (this.#pending.size >= this.#maxPending) return BUSY;
    const check = this.#compare(password, hash ?? ABSENT_USER_HASH)
      .then((same): Verdict => {
        if (!same || hash === undefined) return INVALID;
        this.#remember(key);
        return OK;
      }, (): Verdict => INVALID)
      .finally(() => this.#pending.delete(key));
    this.#pending.set(key, check);
    return check;
  }

  #remember(key: string): void {
    this.#cache.set(key, true);
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
