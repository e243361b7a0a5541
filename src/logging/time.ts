/**
 * Timestamps for router log lines in llama-swap's `logTimeFormat` names
 * (Go's time layouts), in UTC. The empty default keeps modelswap's compact
 * `15:04:05.000`.
 */

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `date` as `format` would print it (an unknown name gives the compact default). */
export function formatLogTime(format: string, date: Date): string {
  const [Y, M, D, h, m, s, ms] = [
    date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(),
    date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds(),
  ];
  const clock = `${pad(h)}:${pad(m)}:${pad(s)}`;
  const day = DAYS[date.getUTCDay()];
  const stamp = `${MONTHS[M]} ${String(D).padStart(2, " ")} ${clock}`;
  switch (format) {
    case "ansic":
      return `${day} ${stamp} ${Y}`;
    case "unixdate":
      return `${day} ${stamp} UTC ${Y}`;
    case "rubydate":
      return `${day} ${MONTHS[M]} ${pad(D)} ${clock} +0000 ${Y}`;
    case "rfc822":
      return `${pad(D)} ${MONTHS[M]} ${pad(Y % 100)} ${pad(h)}:${pad(m)} UTC`;
    case "rfc822z":
      return `${pad(D)} ${MONTHS[M]} ${pad(Y % 100)} ${pad(h)}:${pad(m)} +0000`;
    case "rfc850":
      return `${LONG_DAYS[date.getUTCDay()]}, ${pad(D)}-${MONTHS[M]}-${pad(Y % 100)} ${clock} UTC`;
    case "rfc1123":
      return `${day}, ${pad(D)} ${MONTHS[M]} ${Y} ${clock} UTC`;
    case "rfc1123z":
      return `${day}, ${pad(D)} ${MONTHS[M]} ${Y} ${clock} +0000`;
    case "rfc3339":
      return date.toISOString().replace(/\.\d{3}Z$/, "Z");
    case "rfc3339nano":
      return date.toISOString();
    case "kitchen":
      return `${h % 12 || 12}:${pad(m)}${h < 12 ? "AM" : "PM"}`;
    case "stamp":
      return stamp;
    case "stampmilli":
      return `${stamp}.${pad(ms, 3)}`;
    case "stampmicro":
      return `${stamp}.${pad(ms, 3)}000`;
    case "stampnano":
      return `${stamp}.${pad(ms, 3)}000000`;
    default:
      return `${clock}.${pad(ms, 3)}`;
  }
}
