// Types for snappyjs (pure-JS Snappy *block* format, as used by Loki push and Prometheus remote write).
declare module 'snappyjs' {
  export function compress<T extends ArrayBuffer | Uint8Array>(input: T): T;
  /** Throws on corrupt input or when the uncompressed length exceeds maxLength. */
  export function uncompress<T extends ArrayBuffer | Uint8Array>(input: T, maxLength?: number): T;
  const snappy: { compress: typeof compress; uncompress: typeof uncompress };
  export default snappy;
}
