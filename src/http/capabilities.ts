/**
 * llama-swap's `capabilities` block rendered into `/v1/models` fields that
 * clients such as Open WebUI read: `architecture` (modalities),
 * `capabilities` (flags), `supported_parameters` and `context_length`.
 */

/** The `/v1/models` fields for a model's declared capabilities ({} when none). */
export function capabilityFields(declared: Record<string, unknown>): Record<string, unknown> {
  if (Object.keys(declared).length === 0) return {};
  const list = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
  const inputs = list(declared.in).length ? list(declared.in) : ["text"];
  const outputs = list(declared.out).length ? list(declared.out) : ["text"];
  const tools = declared.tools === true;
  const fields: Record<string, unknown> = {
    architecture: {
      input_modalities: inputs,
      output_modalities: outputs,
      modality: `${inputs.join("+")}->${outputs.join("+")}`,
    },
    capabilities: {
      vision: inputs.includes("image"),
      audio_transcriptions: inputs.includes("audio") && outputs.includes("text"),
      audio_speech: outputs.includes("audio"),
      image_generation: outputs.includes("image"),
      image_to_image: inputs.includes("image") && outputs.includes("image"),
      function_calling: tools,
      reranker: declared.reranker === true,
    },
  };
  if (tools) fields.supported_parameters = ["tools", "tool_choice"];
  if (typeof declared.context === "number" && declared.context > 0) fields.context_length = declared.context;
  return fields;
}
