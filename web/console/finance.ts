import { Router } from 'express';
import { html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

export function financePages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/finance', (req, res) => sendConsolePage(req, res, { title: 'finance', section: 'finance', body: html`<p>Not built yet.</p>` }));
  return router;
}
