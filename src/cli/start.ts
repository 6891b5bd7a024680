// `npm start` (scripts/start runs it): the launcher in the foreground; see launcher.ts.

import "./multi";
import { launch } from "./launcher";

void launch(process.env);
