/**
 * A problem in a config file and the error that carries all of them, so a
 * user fixes a config in one pass.
 */

/** One problem in a config file, at a key path such as `models.foo.ttl`. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config that cannot be used; `message` lists every issue, one per line, as `path: message`. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(({ path, message }) => `${path}: ${message}`).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}
