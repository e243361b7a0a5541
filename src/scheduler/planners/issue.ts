/**
 * Problems in the routing block of a config, reported with the YAML path
 * they came from so a user fixes a config in one pass.
 */

/** One config problem: where it is (e.g. `groups.g1.members[2]`) and what to do. */
export interface PlannerIssue {
  path: string;
  message: string;
}

/** The routing config is invalid; `issues` lists every problem found. */
export class PlannerConfigError extends Error {
  readonly issues: PlannerIssue[];

  constructor(issues: PlannerIssue[]) {
    super(`invalid routing config:\n${issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join("\n")}`);
    this.name = "PlannerConfigError";
    this.issues = issues;
  }
}
