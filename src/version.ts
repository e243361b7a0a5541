/**
 * The version string. `build.ts` stamps the release version and git commit
 * in through esbuild `define`; running from source reports the package
 * version with a "-dev" suffix.
 */
declare const __MODELSWAP_VERSION__: string | undefined;
declare const __MODELSWAP_COMMIT__: string | undefined;

/** e.g. `0.1.0` (built) or `0.1.0-dev` (from source). */
export const VERSION: string = typeof __MODELSWAP_VERSION__ === "string" ? __MODELSWAP_VERSION__ : "0.1.0-dev";

/** Short git commit of the build, or `source`. */
export const COMMIT: string = typeof __MODELSWAP_COMMIT__ === "string" ? __MODELSWAP_COMMIT__ : "source";
