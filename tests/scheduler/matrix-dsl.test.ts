/**
 * The matrix set language: precedence, references, Unicode names, and
 * syntax errors that say where and what was expected (reference §4.6).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSetExpression, SetSyntaxError } from "../../src/scheduler/planners/matrix/dsl.ts";

describe("parsing", () => {
  test("& binds tighter than |, and whitespace is ignored", () => {
    assert.deepEqual(parseSetExpression("a|b  &\tc"), {
      kind: "or",
      items: [
        { kind: "name", name: "a", column: 1 },
        {
          kind: "and",
          items: [{ kind: "name", name: "b", column: 3 }, { kind: "name", name: "c", column: 8 }],
        },
      ],
    });
  });

  test("parentheses group and +name refers to another set", () => {
    assert.deepEqual(parseSetExpression("(g | q) & +tts"), {
      kind: "and",
      items: [
        { kind: "or", items: [{ kind: "name", name: "g", column: 2 }, { kind: "name", name: "q", column: 6 }] },
        { kind: "ref", name: "tts", column: 11 },
      ],
    });
  });

  test("names may hold letters and digits of any script, '_', '-' and '.'", () => {
    assert.deepEqual(parseSetExpression("qwen2.5-7b_q4 & модель"), {
      kind: "and",
      items: [{ kind: "name", name: "qwen2.5-7b_q4", column: 1 }, { kind: "name", name: "модель", column: 17 }],
    });
  });
});

describe("syntax errors name the column and what was expected", () => {
  const cases: Array<[string, RegExp, number]> = [
    ["", /^empty expression: expected a model name, '\+set' or '\(' at column 1$/, 1],
    ["   ", /^empty expression/, 1],
    ["a & +", /^expected set name after '\+' at column 6, found the end of the expression$/, 6],
    ["+ (a)", /^expected set name after '\+' at column 3, found '\('$/, 3],
    ["a ! b", /^unexpected character '!' at column 3: expected a model name, '\+', '\(', '\)', '\|' or '&'/, 3],
    ["(a | b", /^missing closing parenthesis: '\(' at column 1 is not closed; expected '\)' at column 7$/, 7],
    ["a)", /^unexpected token '\)' at column 2: expected '\|', '&' or the end of the expression$/, 2],
    ["()", /^unexpected token '\)' at column 2: expected a model name, '\+set' or '\('$/, 2],
    ["a |", /^unexpected end of expression at column 4: expected a model name/, 4],
    ["(a b)", /^unexpected token 'b' at column 4: expected '\|', '&' or '\)'$/, 4],
    ["a b", /^unexpected token 'b' at column 3/, 3],
  ];
  for (const [source, message, column] of cases) {
    test(JSON.stringify(source), () => {
      assert.throws(
        () => parseSetExpression(source),
        (error: unknown) => {
          assert.ok(error instanceof SetSyntaxError);
          assert.match(error.message, message);
          assert.equal(error.column, column);
          return true;
        },
      );
    });
  }
});
