/**
 * The version string. `build.ts` stamps the release version, git commit and
 * build date in through esbuild `define`; running from source reports the
 * package version with a "-dev" suffix.
 */
declare const __MODELSWAP_VERSION__: string | undefined;
declare const __MODELSWAP_COMMIT__: string | undefined;
declare const __MODELSWAP_BUILD_DATE__: string | undefined;

/** e.g. `0.1.0` (built) or `0.1.0-dev` (from source). */
export const VERSION: string = typeof __MODELSWAP_VERSION__ === "string" ? __MODELSWAP_VERSION__ : "0.1.0-dev";

/** Short git commit of the build, or `source`. */
export const COMMIT: string = typeof __MODELSWAP_COMMIT__ === "string" ? __MODELSWAP_COMMIT__ : "source";

/** When the build was made (ISO 8601, UTC), or `unknown` from source (llama-swap's value for builds without one). */
export const BUILD_DATE: string = typeof __MODELSWAP_BUILD_DATE__ === "string" ? __MODELSWAP_BUILD_DATE__ : "unknown";
