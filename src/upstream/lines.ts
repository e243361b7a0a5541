/**
 * Reads a process's output stream line by line, so each line reaches the
 * model's log and its error tail whole.
 */

/** Splits a byte stream into lines and hands each (with its "\n") to `onLine`. */
export async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        onLine(pending.slice(0, newline + 1));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
    }
  } catch {
    // The process went away mid-read; whatever arrived is kept below.
  }
  pending += decoder.decode();
  if (pending) onLine(pending + "\n");
}
