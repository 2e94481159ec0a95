import type { Request, Response } from 'express';
import { html } from '../html';
import { refusalOf } from '../forms';
import { sendConsolePage } from '../layout';
import type { ConsoleSection } from '../layout';

/** A page whose own read was refused (a missing customer, a bad cursor): the API's words, with its status. */
export function sendReadFailure(req: Request, res: Response, o: { title: string; section: ConsoleSection; crumbs?: Array<[string, string]>; error: unknown; status: number }): void {
  const refusal = refusalOf(o.error, o.status);
  sendConsolePage(req, res, {
    title: o.title,
    section: o.section,
    crumbs: o.crumbs,
    status: o.status,
    body: html`<div class="banner banner-refusal" role="alert">${refusal.message}${refusal.code ? html` <code>${refusal.code}</code>` : ''}</div>`,
  });
}
