import { Router } from 'express';
import { html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

export function invoicePages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/invoices', (req, res) => sendConsolePage(req, res, { title: 'invoices', section: 'invoices', body: html`<p>Not built yet.</p>` }));
  return router;
}
