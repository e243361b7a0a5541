/**
 * The running config as the dashboard shows it: after macros, `${PORT}` and
 * defaults (what modelswap really runs), as plain JSON, with secrets masked:
 * API keys, values that came from `${env.X}`, environment variables whose
 * name says they hold a secret, secret flags of a command (`--api-key`) and
 * passwords in URLs.
 */
import type { Config } from "../config/schema.ts";

/** What a masked value is replaced with. */
export const MASK = "***";

/** Keys whose value is a secret wherever they appear. */
const SECRET_KEYS = /^(api_?keys?|password|secret|token|auth(orization)?)$/i;
/** Environment variable names that hold secrets by convention. */
const SECRET_ENV = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)/i;

/** The config as JSON-safe data with secrets masked; `redact` hides the `${env.X}` values in any text. */
export function maskedConfig(config: Config, redact: (text: string) => string): unknown {
  return mask(config, [], redact);
}

function mask(value: unknown, path: string[], redact: (text: string) => string): unknown {
  const key = path.at(-1) ?? "";
  if (SECRET_KEYS.test(key) && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0)) {
    return Array.isArray(value) ? value.map(() => MASK) : MASK;
  }
  if (path.length >= 2 && path.at(-2) === "env" && SECRET_ENV.test(key)) return MASK;
  if (typeof value === "string") return redact(maskSecretFlags(maskUrlPassword(value)));
  if (value instanceof RegExp) return value.source;
  if (value instanceof Map) value = Object.fromEntries(value);
  if (value instanceof Set) value = [...value];
  if (Array.isArray(value)) return value.map((item, i) => mask(item, [...path, String(i)], redact));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, mask(item, [...path, name], redact)]));
  }
  return typeof value === "function" ? undefined : value;
}

/** `--api-key sk-1` → `--api-key ***` (llama-server's and common secret flags in a command). */
function maskSecretFlags(text: string): string {
  return text.replace(/(--(?:api-key|hf-token|token|password|secret))([= ])("[^"]*"|'[^']*'|\S+)/g, `$1$2${MASK}`);
}

/** `http://user:pass@host` → `http://user:***@host`; other text unchanged. */
function maskUrlPassword(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]+):[^\s/@]+@/gi, `$1:${MASK}@`);
}
