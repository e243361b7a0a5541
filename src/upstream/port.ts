/**
 * Port selection at spawn time. A port assigned by the config can be taken
 * by a leftover server from an earlier run or an unrelated program; the
 * upstream would then fail with a bind error ("exited prematurely" in
 * llama-swap). Checking first and falling back to a free port avoids that.
 */
import type { Runtime } from "../runtime/runtime.ts";

async function tryBind(runtime: Runtime, port: number): Promise<number | null> {
  try {
    const server = await runtime.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(null) });
    const bound = server.port;
    await server.stop(true);
    return bound;
  } catch {
    return null;
  }
}

/** A port the OS reports free on 127.0.0.1 right now. */
export async function freePort(runtime: Runtime): Promise<number> {
  const port = await tryBind(runtime, 0);
  if (port === null) throw new Error("no free TCP port on 127.0.0.1");
  return port;
}

/** `preferred` when it is free on 127.0.0.1, else a free port chosen by the OS. */
export async function choosePort(runtime: Runtime, preferred: number): Promise<number> {
  return (await tryBind(runtime, preferred)) !== null ? preferred : await freePort(runtime);
}
