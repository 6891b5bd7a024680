// The settings of acting on users (connect rates, revocations kept): bad values get an error that
// names the setting and its rule, as every setting does; the defaults leave the limits off.

import "../../src/cli/multi";
import { parseSettings } from "../../src/config/schema";

describe("acting settings", () => {
  test.each([
    [
      "connectRatePerUser",
      "-1",
      'invalid setting PUSHGATE_CONNECT_RATE_PER_USER (connectRatePerUser): expected an integer from 0 to 1000000 (0: no limit), got "-1"',
    ],
    [
      "connectRatePerAddress",
      "lots",
      'invalid setting PUSHGATE_CONNECT_RATE_PER_ADDRESS (connectRatePerAddress): expected an integer from 0 to 1000000 (0: no limit), got "lots"',
    ],
    [
      "connectRateWindowSeconds",
      "0",
      'invalid setting PUSHGATE_CONNECT_RATE_WINDOW_SECONDS (connectRateWindowSeconds): expected an integer from 1 to 3600, got "0"',
    ],
    ["revokeKeepSeconds", "5", 'invalid setting PUSHGATE_REVOKE_KEEP_SECONDS (revokeKeepSeconds): expected an integer from 60 to 31536000, got "5"'],
  ])("%s=%s is refused", (key, value, message) => {
    expect(parseSettings({ [key]: value })[1]).toBe(message);
  });

  test("off by default; revocations kept a day", () => {
    const [settings] = parseSettings({});
    expect(settings).toMatchObject({ connectRatePerUser: 0, connectRatePerAddress: 0, connectRateWindowSeconds: 1, revokeKeepSeconds: 86400 });
  });
});
