import { Router } from 'express';
import { html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

export function customerPages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/customers', (req, res) => sendConsolePage(req, res, { title: 'customers', section: 'customers', body: html`<p>Not built yet.</p>` }));
  return router;
}
