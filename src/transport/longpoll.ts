// Transport: long-poll. Collects what one wait brought and answers it as one JSON batch
// (see protocol/longpoll.ts).

import { quoteJson } from "../host/json";
import { batchBody, batchMessage, batchNotice } from "../protocol/longpoll";
import type { Batch } from "./transport";

export class LongPollBatch implements Batch {
  private readonly messages: string[] = [];
  private readonly notices: string[] = [];

  message(channel: string, data: string, id: string | undefined, event?: string): void {
    this.messages.push(batchMessage(channel, data, id, event, quoteJson));
  }

  notice(code: string, text: string): void {
    this.notices.push(batchNotice(code, text, quoteJson));
  }

  finish(cursor: string | undefined): void {
    ngx.status = 200;
    ngx.header.set("Content-Type", "application/json; charset=utf-8");
    ngx.header.set("Cache-Control", "no-store");
    ngx.print(batchBody(this.messages, this.notices, cursor, quoteJson));
  }
}
