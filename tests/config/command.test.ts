import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { quoteShellWord, splitCommand, stripCommandComments } from "../../src/config/command.ts";

describe("stripCommandComments", () => {
  it("drops comment lines and joins backslash continuations", () => {
    const cmd = [
      "llama-server \\",
      "  # the model to serve",
      "  -m /models/qwen.gguf \\",
      "    #--ctx-size 4096 \\",
      "  --port 5800",
    ].join("\n");
    assert.equal(stripCommandComments(cmd), "llama-server -m /models/qwen.gguf --port 5800");
  });

  it("keeps a # inside a line, since it may be part of an argument", () => {
    assert.equal(stripCommandComments("server --prompt '#1 answer'"), "server --prompt '#1 answer'");
  });

  it("keeps separate lines (they are whitespace to the splitter)", () => {
    assert.deepEqual(splitCommand(stripCommandComments("server\n  --flag\n# c\n  value\n")), ["server", "--flag", "value"]);
  });
});

describe("splitCommand", () => {
  it("splits on any whitespace", () => {
    assert.deepEqual(splitCommand("  llama-server\t-m  a.gguf\n--port 5800 "), ["llama-server", "-m", "a.gguf", "--port", "5800"]);
  });

  it("keeps single-quoted text literally", () => {
    assert.deepEqual(splitCommand(`sh -c 'echo "$HOME" \\n'`), ["sh", "-c", `echo "$HOME" \\n`]);
  });

  it("handles double quotes with POSIX backslash escapes", () => {
    assert.deepEqual(splitCommand(`a "b c" "q\\"uote" "back\\\\slash" "keep\\n"`), ["a", "b c", `q"uote`, "back\\slash", "keep\\n"]);
  });

  it("handles unquoted backslash escapes and joins adjacent quoted parts into one word", () => {
    assert.deepEqual(splitCommand(`a\\ b --x="1 2"'3' ""`), ["a b", "--x=1 23", ""]);
  });

  it("treats backslash-newline as a line continuation", () => {
    assert.deepEqual(splitCommand("server \\\n --port 1"), ["server", "--port", "1"]);
  });

  it("throws a clear error on an unterminated quote", () => {
    assert.throws(() => splitCommand(`server --name "oops`), /unterminated double quote.*close the quote/s);
    assert.throws(() => splitCommand(`server --name 'oops`), /unterminated single quote/);
  });

  it("throws on a lone trailing backslash", () => {
    assert.throws(() => splitCommand("server \\"), /lone backslash/);
  });
});

describe("quoteShellWord", () => {
  it("round-trips through splitCommand", () => {
    const words = ["/usr/bin/bun", "run", "/path with space/main.ts", "it's", "", "$HOME", "a\"b", "--x=1"];
    assert.deepEqual(splitCommand(words.map(quoteShellWord).join(" ")), words);
    assert.equal(quoteShellWord("/usr/bin/bun"), "/usr/bin/bun");
  });
});
