// The `pushgate` command (bin/pushgate): start runs the launcher in the foreground; reload, stop
// and status act on the launcher running with the same settings (its runtime directory).

import "./multi";
import { resolve } from "node:path";
import { reload, status, stop } from "./control";
import { launch } from "./launcher";
import { SettingsError, loadSettings } from "./settings";

const USAGE = `usage: pushgate <verb>
  start    run the gateway in the foreground (nginx, and a local Redis if none is configured)
  status   what runs: launcher, nginx, addresses, Redis, and the gateway's GET /status
  reload   new nginx workers with the same settings; open streams are told to reconnect
  stop     stop nginx and the Redis the launcher started, and wait until they are gone
Settings come from PUSHGATE_* variables and PUSHGATE_CONFIG, as for npm start.`;

async function main(verb: string | undefined): Promise<number> {
  if (verb === "start") {
    await launch(process.env);
    return -1; // the launcher keeps running and exits by itself
  }
  if (verb !== "status" && verb !== "reload" && verb !== "stop") {
    console.error(USAGE);
    return 2;
  }
  let runtimeDir: string;
  try {
    runtimeDir = resolve(loadSettings(process.env).runtimeDir);
  } catch (e) {
    if (e instanceof SettingsError) {
      console.error(`pushgate: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (verb === "status") {
    return status(runtimeDir);
  }
  return verb === "reload" ? reload(runtimeDir) : stop(runtimeDir);
}

void main(process.argv[2]).then((code) => {
  if (code >= 0) {
    process.exit(code);
  }
});
