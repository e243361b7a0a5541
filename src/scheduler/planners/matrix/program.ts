/**
 * Compiles a matrix block (vars, evict_costs, ordered sets) into a Program the
 * solver can run: identifiers resolved to model ids, `+ref`s resolved to set
 * indices, sets in tie-break order, and every problem reported at once with
 * the config path it came from.
 */
import type { PlannerIssue } from "../issue.ts";
import { parseSetExpression, type SetExpr, SetSyntaxError } from "./dsl.ts";

/** The matrix block as the config gives it (sets in the user's YAML order). */
export interface MatrixSpec {
  vars: Record<string, string>;
  evictCosts: Record<string, number>;
  sets: Array<[name: string, dsl: string]>;
}

/** A set expression with names resolved: `model` is a model id, `ref` an index into `Program.sets`. */
export type ProgramExpr =
  | { kind: "model"; model: string }
  | { kind: "ref"; set: number }
  | { kind: "or"; items: ProgramExpr[] }
  | { kind: "and"; items: ProgramExpr[] };

/** One compiled set. */
export interface ProgramSet {
  name: string;
  dsl: string;
  expr: ProgramExpr;
  /** Every model the set can contain, through references too (to skip sets quickly). */
  models: ReadonlySet<string>;
}

/** A validated matrix, ready to solve. */
export interface Program {
  /** In tie-break order: post-order DFS over definitions, referenced sets first. */
  sets: ProgramSet[];
  /** Cost of evicting a model; models not listed cost 1. */
  costs: ReadonlyMap<string, number>;
}

/** Compilation outcome: a program when there are no issues. */
export type CompileResult = { program: Program; issues: [] } | { program: null; issues: PlannerIssue[] };

const VAR_NAME = /^[a-zA-Z0-9.-]{1,32}$/;

interface ParsedSet {
  name: string;
  dsl: string;
  ast: SetExpr | null;
  refs: string[];
}

function collectRefs(expr: SetExpr, into: string[]): void {
  if (expr.kind === "ref") into.push(expr.name);
  else if (expr.kind === "or" || expr.kind === "and") for (const item of expr.items) collectRefs(item, into);
}

/**
 * Validates and compiles a matrix. `path` is where the block lives in the
 * user's YAML (e.g. `routing.router.settings.matrix`); issue paths extend it.
 */
export function compileMatrix(spec: MatrixSpec, modelIds: readonly string[], path: string): CompileResult {
  const issues: PlannerIssue[] = [];
  const models = new Set(modelIds);

  for (const [name, model] of Object.entries(spec.vars)) {
    if (!VAR_NAME.test(name)) {
      issues.push({
        path: `${path}.vars.${name}`,
        message: `var name "${name}" is invalid: use 1 to 32 letters, digits, '.' or '-' (no '_')`,
      });
    }
    if (!models.has(model)) {
      issues.push({
        path: `${path}.vars.${name}`,
        message: `var "${name}" maps to "${model}", which is not a configured model id; use a model id (aliases are not allowed)`,
      });
    }
  }
  const resolve = (identifier: string): string | undefined =>
    Object.hasOwn(spec.vars, identifier) ? spec.vars[identifier] : models.has(identifier) ? identifier : undefined;

  const costs = new Map<string, number>();
  for (const [key, cost] of Object.entries(spec.evictCosts)) {
    const model = resolve(key);
    if (model === undefined) {
      issues.push({
        path: `${path}.evict_costs.${key}`,
        message: `"${key}" is neither a var nor a model id; use a name defined under vars or a configured model id`,
      });
    }
    if (typeof cost !== "number" || !Number.isFinite(cost) || cost <= 0) {
      issues.push({
        path: `${path}.evict_costs.${key}`,
        message: `evict cost of "${key}" must be a number greater than 0 (got ${String(cost)})`,
      });
    }
    if (model !== undefined) costs.set(model, cost);
  }

  if (spec.sets.length === 0) {
    issues.push({ path: `${path}.sets`, message: `define at least one set, e.g. sets: { all: "a & b" }` });
  }

  const parsed: ParsedSet[] = spec.sets.map(([name, dsl]) => {
    const setPath = `${path}.sets.${name}`;
    try {
      const ast = parseSetExpression(dsl);
      const refs: string[] = [];
      collectRefs(ast, refs);
      return { name, dsl, ast, refs };
    } catch (error) {
      if (!(error instanceof SetSyntaxError)) throw error;
      issues.push({ path: setPath, message: `${error.message} in "${dsl}"` });
      return { name, dsl, ast: null, refs: [] };
    }
  });
  const indexOf = new Map(parsed.map((set, i) => [set.name, i]));

  // Resolve identifiers and references; report every unknown one.
  const resolveExpr = (expr: SetExpr, set: ParsedSet): ProgramExpr | null => {
    switch (expr.kind) {
      case "name": {
        const model = resolve(expr.name);
        if (model !== undefined) return { kind: "model", model };
        issues.push({
          path: `${path}.sets.${set.name}`,
          message: `unknown model or var "${expr.name}" at column ${expr.column} in "${set.dsl}"; ` +
            `define it under vars or use a configured model id`,
        });
        return null;
      }
      case "ref": {
        const index = indexOf.get(expr.name);
        if (index !== undefined) return { kind: "ref", set: index };
        const defined = parsed.map((s) => s.name).join(", ");
        issues.push({
          path: `${path}.sets.${set.name}`,
          message: `"+${expr.name}" at column ${expr.column} in "${set.dsl}" names no set; defined sets: ${defined}`,
        });
        return null;
      }
      case "or":
      case "and": {
        const items = expr.items.map((item) => resolveExpr(item, set));
        return items.every((item) => item !== null) ? { kind: expr.kind, items: items as ProgramExpr[] } : null;
      }
    }
  };
  const resolved = parsed.map((set) => (set.ast === null ? null : resolveExpr(set.ast, set)));

  // Tie-break order: post-order DFS in definition order, references first; detect cycles.
  const order: number[] = [];
  const state = new Array<"new" | "visiting" | "done">(parsed.length).fill("new");
  const stack: number[] = [];
  const reportedCycles = new Set<string>();
  const visit = (i: number): void => {
    if (state[i] === "done") return;
    if (state[i] === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(i)), i].map((j) => parsed[j].name);
      const key = [...new Set(cycle)].sort().join("\0");
      if (!reportedCycles.has(key)) {
        reportedCycles.add(key);
        issues.push({
          path: `${path}.sets.${parsed[i].name}`,
          message: `sets reference each other in a cycle: ${cycle.join(" -> ")}; remove one of these '+' references`,
        });
      }
      return;
    }
    state[i] = "visiting";
    stack.push(i);
    for (const ref of parsed[i].refs) {
      const j = indexOf.get(ref);
      if (j !== undefined) visit(j);
    }
    stack.pop();
    state[i] = "done";
    order.push(i);
  };
  for (let i = 0; i < parsed.length; i++) visit(i);

  if (issues.length > 0) return { program: null, issues };

  const modelsOf = new Map<number, Set<string>>();
  const collectModels = (expr: ProgramExpr, into: Set<string>): void => {
    if (expr.kind === "model") into.add(expr.model);
    else if (expr.kind === "ref") for (const model of modelsOf.get(expr.set)!) into.add(model);
    else for (const item of expr.items) collectModels(item, into);
  };
  // Post-order guarantees referenced sets are collected before their users.
  for (const i of order) {
    const into = new Set<string>();
    collectModels(resolved[i]!, into);
    modelsOf.set(i, into);
  }
  // Re-number refs from definition indices to positions in `order`.
  const position = new Map(order.map((i, k) => [i, k]));
  const renumber = (expr: ProgramExpr): ProgramExpr => {
    if (expr.kind === "model") return expr;
    if (expr.kind === "ref") return { kind: "ref", set: position.get(expr.set)! };
    return { kind: expr.kind, items: expr.items.map(renumber) };
  };
  const sets = order.map((i) => ({
    name: parsed[i].name,
    dsl: parsed[i].dsl,
    expr: renumber(resolved[i]!),
    models: modelsOf.get(i)!,
  }));
  return { program: { sets, costs }, issues: [] };
}
