import { Router } from 'express';
import { html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

export function catalogPages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/plans', (req, res) => sendConsolePage(req, res, { title: 'catalog', section: 'plans', body: html`<p>Not built yet.</p>` }));
  return router;
}
