const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

/**
 * Whether a URL may carry a secret (a bot token, an API token, a key): https, or plain http to a
 * loopback address only (a local proxy or a test double), so a typo can never send one in the
 * clear over the network.
 */
export function safeForSecrets(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname));
}
