// Prints nginx.conf rendered from the settings in the environment, for images that run nginx
// without Node (Dockerfile.openresty renders it at build time).
// Usage: node build/src/cli/render.js <nginx binary name> > nginx.conf

import "./multi";
import { renderConfig } from "./gateway";
import { SettingsError, loadSettings } from "./settings";

try {
  process.stdout.write(renderConfig(loadSettings(process.env), process.argv[2] ?? "openresty"));
} catch (e) {
  console.error(`pushgate: ${(e as Error).message}`);
  process.exit(e instanceof SettingsError ? 2 : 1);
}
