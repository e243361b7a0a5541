/**
 * The command line: llama-swap's flag spellings keep working, mistakes are
 * clear errors (not stack traces), and `validate` reports every config error
 * with its key path.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliError, parseCli, parseListen } from "../src/cli.ts";
import { routerArgv, runtime, writeConfig } from "./e2e/harness.ts";

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = runtime.spawn({ argv: [...routerArgv(), ...args], output: "pipe" });
  const [stdout, stderr, status] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code: status.code, stdout, stderr };
}

describe("flag parsing", () => {
  test("llama-swap's Go-style spellings and ours mean the same", () => {
    for (const args of [
      ["-config", "c.yaml", "-listen", ":9000", "-watch-config"],
      ["--config", "c.yaml", "--listen", ":9000", "--watch-config"],
      ["--config=c.yaml", "-listen=:9000", "-watch-config=true"],
    ]) {
      assert.deepEqual(parseCli(args), {
        kind: "serve",
        config: "c.yaml",
        configDir: null,
        listen: { hostname: "0.0.0.0", port: 9000 },
        tls: null,
        watchConfig: true,
        logLevel: null,
      });
    }
    assert.deepEqual(parseCli([]), { kind: "serve", config: null, configDir: null, listen: { hostname: "127.0.0.1", port: 8080 }, tls: null, watchConfig: false, logLevel: null });
    assert.deepEqual(parseCli(["-version"]), { kind: "version" });
    assert.deepEqual(parseCli(["validate", "--config", "x.yaml"]), { kind: "validate", config: "x.yaml", configDir: null });
    for (const args of [["-config-dir", "conf.d"], ["--config-dir=conf.d"]]) {
      assert.deepEqual(parseCli(args), { kind: "serve", config: null, configDir: "conf.d", listen: { hostname: "127.0.0.1", port: 8080 }, tls: null, watchConfig: false, logLevel: null });
    }
    assert.deepEqual(parseCli(["validate", "-config", "a.yaml", "-config-dir", "d"]), { kind: "validate", config: "a.yaml", configDir: "d" });
    assert.deepEqual(parseCli(["demo-upstream", "--port", "1"]), { kind: "demo-upstream", args: ["--port", "1"] });
    assert.equal((parseCli(["--log-level", "debug"]) as { logLevel: string }).logLevel, "debug");
  });

  test("listen addresses", () => {
    assert.deepEqual(parseListen("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
    assert.deepEqual(parseListen("[::1]:8080"), { hostname: "::1", port: 8080 });
    assert.deepEqual(parseListen("0.0.0.0"), { hostname: "0.0.0.0", port: 8080 }, "a host alone takes the default port");
    assert.deepEqual(parseListen("[::1]", 8443), { hostname: "::1", port: 8443 });
    for (const bad of ["8080", "host:99999", "host:", ":", "", "::1", "[::1"]) {
      assert.throws(() => parseListen(bad), /HOST:PORT/, bad);
    }
  });

  test("TLS flags: llama-swap's spellings, both or neither, and 8443 by default", () => {
    const tls = { certFile: "c.pem", keyFile: "k.pem" };
    for (const args of [
      ["-tls-cert-file", "c.pem", "-tls-key-file", "k.pem"],
      ["--tls-cert-file=c.pem", "--tls-key-file", "k.pem"],
      ["--tls-key-file=k.pem", "-tls-cert-file=c.pem"],
    ]) {
      const command = parseCli(args) as { tls: unknown; listen: unknown };
      assert.deepEqual(command.tls, tls);
      assert.deepEqual(command.listen, { hostname: "127.0.0.1", port: 8443 }, "HTTPS listens on 8443 unless told otherwise");
    }
    const on = ["-tls-cert-file", "c.pem", "-tls-key-file", "k.pem"];
    assert.deepEqual((parseCli([...on, "-listen", ":9443"]) as { listen: unknown }).listen, { hostname: "0.0.0.0", port: 9443 });
    assert.deepEqual((parseCli([...on, "-listen", "0.0.0.0"]) as { listen: unknown }).listen, { hostname: "0.0.0.0", port: 8443 });
    assert.deepEqual((parseCli(["-listen", "0.0.0.0"]) as { listen: unknown }).listen, { hostname: "0.0.0.0", port: 8080 });
    assert.throws(() => parseCli(["-tls-cert-file", "c.pem"]), (e) => e instanceof CliError && /--tls-cert-file needs --tls-key-file too/.test(e.message));
    assert.throws(() => parseCli(["--tls-key-file=k.pem"]), (e) => e instanceof CliError && /--tls-key-file needs --tls-cert-file too/.test(e.message));
    assert.throws(() => parseCli(["-tls-cert-file"]), /--tls-cert-file needs a value/);
  });

  test("mistakes are CliErrors that say what to do", () => {
    assert.throws(() => parseCli(["--bogus"]), (e) => e instanceof CliError && /unknown flag "--bogus".*--help/.test(e.message));
    assert.throws(() => parseCli(["--config"]), /--config needs a value/);
    assert.throws(() => parseCli(["--log-level", "loud"]), /debug, info, warn, error/);
    assert.throws(() => parseCli(["stray"]), /unexpected argument "stray"/);
  });
});

describe("the program", () => {
  test("--version prints the version and exits 0", async () => {
    const result = await run(["--version"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^version: \S+ \(\S+\)/);
  });

  test("an unknown flag or a missing config file is a one-line error, not a stack trace", async () => {
    const flag = await run(["--nope"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown flag "--nope"/);
    assert.doesNotMatch(flag.stderr, /at .*\.ts:\d+/);
    const missing = await run(["--config", "/nonexistent/config.yaml"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read \/nonexistent\/config\.yaml/);
    assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/);
  });

  test("validate: exit 0 with a summary, or exit 1 listing every error with its path", async () => {
    const good = writeConfig("models:\n  a:\n    cmd: llama-server --port ${PORT}\n  b:\n    cmd: llama-server --port ${PORT}\n");
    const ok = await run(["validate", "--config", good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK \(2 models, router group\)/);

    const bad = writeConfig("models:\n  a:\n    cmd: x\n    ttl: soon\n  b:\n    cmd: y\n    aliases: [a]\n    proxy: not a url\n");
    const failed = await run(["validate", "--config", bad]);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /models\.a\.ttl/);
    assert.match(failed.stderr, /models\.b\.proxy/);
    assert.equal(failed.stdout, "");
  });

  test("validate --config-dir: files merged in name order; a model in two files is an error naming both", async () => {
    const root = mkdtempSync(join(tmpdir(), "modelswap-config-dir-"));
    const dir = join(root, "conf.d");
    mkdirSync(dir);
    mkdirSync(join(dir, "nested.yaml")); // a directory, not a file: never read
    writeFileSync(join(root, "main.yaml"), "models:\n  a:\n    cmd: llama-server --port ${PORT}\n");
    writeFileSync(join(dir, "20-c.yml"), "models:\n  c:\n    cmd: llama-server --port ${PORT}\n");
    writeFileSync(join(dir, "10-b.yaml"), "models:\n  b:\n    cmd: llama-server --port ${PORT}\n");
    writeFileSync(join(dir, "README.md"), "not yaml: [\n");
    const ok = await run(["validate", "-config", join(root, "main.yaml"), "-config-dir", dir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /main\.yaml and .*conf\.d\/: OK \(3 models, router group\)/);

    writeFileSync(join(dir, "30-dup.yaml"), "models:\n  b:\n    cmd: other --port ${PORT}\n");
    const dup = await run(["validate", "-config-dir", dir]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /models\.b: model 'b' is defined in both \S*conf\.d\/10-b\.yaml and \S*conf\.d\/30-dup\.yaml; define it in one file only/);
  });
});
